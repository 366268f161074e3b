package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// SessionKeys returns the store session cookies' keys: the stored ones, or
// candidate, stored now, when there are none yet. Of two processes starting
// at once, the first to commit wins and both use its keys.
func (d *DB) SessionKeys(ctx context.Context, candidate []byte) ([]byte, error) {
	var keys []byte
	err := d.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES ('session_keys', ?)
			ON CONFLICT (name) DO NOTHING`, candidate); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = 'session_keys'`).Scan(&keys)
	})
	if err != nil {
		return nil, fmt.Errorf("session keys: %w", err)
	}
	return keys, nil
}
