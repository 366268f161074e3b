package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/jackc/pgx/v5"
)

// SigningKeys returns the signing keys to publish at now: the current
// ones, then the retired ones published until after now, newest first.
func (d *DB) SigningKeys(ctx context.Context, now time.Time) ([]oauth.SigningKey, error) {
	rows, err := query(ctx, d.pool, `SELECT id, private_key, created_at, retired_at, published_until
		FROM signing_keys WHERE retired_at IS NULL OR published_until > $1 ORDER BY retired_at IS NOT NULL, created_at DESC, id`, now.UnixMilli())
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
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if retire {
			if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND published_until <= $1`, at); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, at); err != nil {
				return err
			}
		}
		_, err := exec(ctx, tx, `INSERT INTO signing_keys (id, private_key, created_at, published_until) VALUES ($1, $2, $3, $4)`,
			k.ID, k.Private, at, k.PublishedUntil.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("add signing key: %w", err)
	}
	return nil
}

// KeepSigningKey makes sure the key stays published until at least until;
// it reports false when the key is gone. The update locks the row, so a
// rotation's deletion either comes first (false) or sees the new time.
func (d *DB) KeepSigningKey(ctx context.Context, id string, until time.Time) (bool, error) {
	var n int64
	err := queryRow(ctx, d.pool, `WITH kept AS (
			UPDATE signing_keys SET published_until = GREATEST(published_until, $2) WHERE id = $1 RETURNING 1)
		SELECT count(*) FROM kept`, id, until.UnixMilli()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("keep signing key: %w", err)
	}
	return n == 1, nil
}
