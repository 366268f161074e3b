package postgres

import (
	"context"
	"fmt"

	"github.com/apistore/apistore/oauth"
)

// PutScope creates a scope or updates its description and roles.
func (d *DB) PutScope(ctx context.Context, s oauth.Scope) error {
	_, err := d.exec(ctx, `INSERT INTO scopes (name, description, roles) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description, roles = excluded.roles`,
		s.Name, s.Description, joinWords(s.Roles))
	if err != nil {
		return fmt.Errorf("put scope %q: %w", s.Name, err)
	}
	return nil
}

// ScopesByName returns the registered scopes among names. Names that
// PostgreSQL's text cannot hold name no registered scope, and are left out
// of the query.
func (d *DB) ScopesByName(ctx context.Context, names []string) ([]oauth.Scope, error) {
	valid := make([]string, 0, len(names))
	for _, n := range names {
		if textOK(n) {
			valid = append(valid, n)
		}
	}
	if len(valid) == 0 {
		return nil, nil
	}
	return d.scopes(ctx, `SELECT name, description, roles FROM scopes WHERE name = ANY($1)`, valid)
}

// Scopes lists every registered scope by name.
func (d *DB) Scopes(ctx context.Context) ([]oauth.Scope, error) {
	return d.scopes(ctx, `SELECT name, description, roles FROM scopes ORDER BY name`)
}

func (d *DB) scopes(ctx context.Context, sql string, args ...any) ([]oauth.Scope, error) {
	rows, err := query(ctx, d.pool, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("load scopes: %w", err)
	}
	defer rows.Close()
	var out []oauth.Scope
	for rows.Next() {
		var s oauth.Scope
		var roles string
		if err := rows.Scan(&s.Name, &s.Description, &roles); err != nil {
			return nil, fmt.Errorf("load scopes: %w", err)
		}
		s.Roles = words(roles)
		out = append(out, s)
	}
	return out, rows.Err()
}
