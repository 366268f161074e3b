package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apistore/apistore/oauth"
)

// PutScope creates a scope or updates its description and roles.
func (d *DB) PutScope(ctx context.Context, s oauth.Scope) error {
	_, err := d.w.ExecContext(ctx, `INSERT INTO scopes (name, description, roles) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description, roles = excluded.roles`,
		s.Name, s.Description, joinWords(s.Roles))
	if err != nil {
		return fmt.Errorf("put scope %q: %w", s.Name, err)
	}
	return nil
}

// ScopesByName returns the registered scopes among names.
func (d *DB) ScopesByName(ctx context.Context, names []string) ([]oauth.Scope, error) {
	if len(names) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(names)
	if err != nil {
		return nil, fmt.Errorf("load scopes: %w", err)
	}
	// One statement text whatever the number of names, so it stays prepared.
	return d.scopes(ctx, `SELECT name, description, roles FROM scopes WHERE name IN (SELECT value FROM json_each(?))`, string(list))
}

// Scopes lists every registered scope by name.
func (d *DB) Scopes(ctx context.Context) ([]oauth.Scope, error) {
	return d.scopes(ctx, `SELECT name, description, roles FROM scopes ORDER BY name`)
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
