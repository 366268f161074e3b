package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
)

// SigningKeys returns the signing keys to publish at now: the current
// ones, then the retired ones published until after now, newest first.
func (d *DB) SigningKeys(ctx context.Context, now time.Time) ([]oauth.SigningKey, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT id, private_key, created_at, retired_at, published_until
		FROM signing_keys WHERE retired_at IS NULL OR published_until > ? ORDER BY retired_at IS NOT NULL, created_at DESC, id`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	defer rows.Close()
	return rowmap.AllWrapped(rows, "signing keys", rowmap.SigningKey)
}

// AddSigningKey stores k; with retire, it retires the other current keys
// at k.CreatedAt and deletes the retired keys no longer published then, in
// the same transaction.
func (d *DB) AddSigningKey(ctx context.Context, k *oauth.SigningKey, retire bool) error {
	at := k.CreatedAt.UnixMilli()
	err := d.tx(ctx, func(tx *sql.Tx) error {
		if retire {
			if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND published_until <= ?`, at); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL`, at); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (id, private_key, created_at, published_until) VALUES (?, ?, ?, ?)`,
			k.ID, k.Private, at, k.PublishedUntil.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("add signing key: %w", err)
	}
	return nil
}

// KeepSigningKey makes sure the key stays published until at least until;
// it reports false when the key is gone.
func (d *DB) KeepSigningKey(ctx context.Context, id string, until time.Time) (bool, error) {
	var n int64
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET published_until = max(published_until, ?) WHERE id = ?`,
			until.UnixMilli(), id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("keep signing key: %w", err)
	}
	return n == 1, nil
}
