package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
)

// tenantIDOf is the SQL for the id of the tenant whose domain is the
// statement's next argument ("" is the super tenant's: see superIfEmpty).
const tenantIDOf = `(SELECT id FROM tenants WHERE domain = ?)`

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
	res, err := d.w.ExecContext(ctx, `INSERT INTO scopes (tenant_id, name, description, roles)
		SELECT id, ?, ?, ? FROM tenants WHERE domain = ?
		ON CONFLICT (tenant_id, name) DO UPDATE SET description = excluded.description, roles = excluded.roles`,
		s.Name, s.Description, joinWords(s.Roles), superIfEmpty(tenant))
	return oneRow(res, err, fmt.Sprintf("put scope %q of tenant %q", s.Name, superIfEmpty(tenant)))
}

// ScopesByName returns the tenant's registered scopes among names.
func (d *DB) ScopesByName(ctx context.Context, tenant string, names []string) ([]oauth.Scope, error) {
	if len(names) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(names)
	if err != nil {
		return nil, fmt.Errorf("load scopes: %w", err)
	}
	// One statement text whatever the number of names, so it stays prepared.
	return d.scopes(ctx, `SELECT name, description, roles FROM scopes
		WHERE tenant_id = `+tenantIDOf+` AND name IN (SELECT value FROM json_each(?))`, superIfEmpty(tenant), string(list))
}

// Scopes lists the tenant's registered scopes by name.
func (d *DB) Scopes(ctx context.Context, tenant string) ([]oauth.Scope, error) {
	return d.scopes(ctx, `SELECT name, description, roles FROM scopes WHERE tenant_id = `+tenantIDOf+` ORDER BY name`, superIfEmpty(tenant))
}

func (d *DB) scopes(ctx context.Context, query string, args ...any) ([]oauth.Scope, error) {
	st, err := d.readStmts.get(query)
	if err != nil {
		return nil, fmt.Errorf("load scopes: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("load scopes: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "load scopes", rowmap.Scope)
}
