package postgres

import (
	"context"
	"fmt"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
)

// tenantIDOf is the SQL for the id of the tenant whose domain is the
// parameter p ("" is the super tenant's: see superIfEmpty).
func tenantIDOf(p string) string {
	return `(SELECT id FROM tenants WHERE lower(domain) = lower(` + p + ` COLLATE "C"))`
}

// superIfEmpty is tenant, or the super tenant's domain for "".
func superIfEmpty(tenant string) string {
	if tenant == "" {
		return oauth.SuperTenant
	}
	return tenant
}

// PutScope creates a scope of the tenant (its domain; "" the super
// tenant's) or updates its description and roles. An unknown tenant is
// ErrNotFound.
func (d *DB) PutScope(ctx context.Context, tenant string, s oauth.Scope) error {
	tag, err := d.exec(ctx, `INSERT INTO scopes (tenant_id, name, description, roles)
		SELECT id, $1, $2, $3 FROM tenants WHERE lower(domain) = lower($4 COLLATE "C")
		ON CONFLICT (tenant_id, name) DO UPDATE SET description = excluded.description, roles = excluded.roles`,
		s.Name, s.Description, joinWords(s.Roles), superIfEmpty(tenant))
	return oneRow(tag, err, fmt.Sprintf("put scope %q of tenant %q", s.Name, superIfEmpty(tenant)))
}

// ScopesByName returns the tenant's registered scopes among names. Names
// that PostgreSQL's text cannot hold name no registered scope, and are
// left out of the query.
func (d *DB) ScopesByName(ctx context.Context, tenant string, names []string) ([]oauth.Scope, error) {
	valid := make([]string, 0, len(names))
	for _, n := range names {
		if textOK(n) {
			valid = append(valid, n)
		}
	}
	if len(valid) == 0 || !textOK(tenant) {
		return nil, nil
	}
	return d.scopes(ctx, `SELECT name, description, roles FROM scopes WHERE tenant_id = `+tenantIDOf("$1")+` AND name = ANY($2)`,
		superIfEmpty(tenant), valid)
}

// Scopes lists the tenant's registered scopes by name.
func (d *DB) Scopes(ctx context.Context, tenant string) ([]oauth.Scope, error) {
	if !textOK(tenant) {
		return nil, nil
	}
	return d.scopes(ctx, `SELECT name, description, roles FROM scopes WHERE tenant_id = `+tenantIDOf("$1")+` ORDER BY name`, superIfEmpty(tenant))
}

func (d *DB) scopes(ctx context.Context, sql string, args ...any) ([]oauth.Scope, error) {
	rows, err := query(ctx, d.pool, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("load scopes: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "load scopes", rowmap.Scope)
}
