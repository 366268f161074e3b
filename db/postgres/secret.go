package postgres

import (
	"context"
	"fmt"
)

// SessionKeys returns the store session cookies' keys: the stored ones, or
// candidate, stored now, when there are none yet. Of nodes starting at
// once, the first to commit wins and all use its keys: an insert that
// meets another's uncommitted row waits for it and then does nothing, and
// the read, a statement of its own, starts after that.
func (d *DB) SessionKeys(ctx context.Context, candidate []byte) ([]byte, error) {
	if _, err := d.exec(ctx, `INSERT INTO secrets (name, value) VALUES ('session_keys', $1)
		ON CONFLICT (name) DO NOTHING`, candidate); err != nil {
		return nil, fmt.Errorf("session keys: %w", err)
	}
	var keys []byte
	if err := d.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = 'session_keys'`).Scan(&keys); err != nil {
		return nil, fmt.Errorf("session keys: %w", err)
	}
	return keys, nil
}
