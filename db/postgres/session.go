package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// CreateSession records a log-in session of userID by the hash of its id,
// valid until expires. Expired sessions are swept out on the way, so the
// table stays as small as the number of people logged in.
func (d *DB) CreateSession(ctx context.Context, id oauth.Hash, userID int64, now, expires time.Time) error {
	return d.storeExpiring(ctx, rowmap.Sessions, id, userID, now, expires)
}

// SessionUser returns the user of an unexpired session, or ErrNotFound.
func (d *DB) SessionUser(ctx context.Context, id oauth.Hash, now time.Time) (*portal.User, error) {
	return d.expiringUser(ctx, rowmap.Sessions, id, now)
}

// storeExpiring stores h for userID until expires in t, sweeping out the
// rows expired by now on the way.
func (d *DB) storeExpiring(ctx context.Context, t rowmap.Expiring, h oauth.Hash, userID int64, now, expires time.Time) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		if _, err := exec(ctx, tx, `DELETE FROM `+t.Table+` WHERE expires_at <= $1`, now.UnixMilli()); err != nil {
			return fmt.Errorf("sweep %s: %w", t.Plural, err)
		}
		if _, err := exec(ctx, tx, `INSERT INTO `+t.Table+` (`+t.Hash+`, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			h[:], userID, now.UnixMilli(), expires.UnixMilli()); err != nil {
			return fmt.Errorf("create %s: %w", t.One, err)
		}
		return nil
	})
}

// expiringUser returns the user holding h in t unexpired at now, or
// ErrNotFound.
func (d *DB) expiringUser(ctx context.Context, t rowmap.Expiring, h oauth.Hash, now time.Time) (*portal.User, error) {
	u, err := rowmap.ScanUser(queryRow(ctx, d.pool, `SELECT `+rowmap.UserColumns+` FROM users
		WHERE id = (SELECT user_id FROM `+t.Table+` WHERE `+t.Hash+` = $1 AND expires_at > $2)`, h[:], now.UnixMilli()))
	if err != nil {
		return nil, notFound(t.One, err)
	}
	return u, nil
}

// DeleteSession ends a log-in session; an unknown one is not an error.
func (d *DB) DeleteSession(ctx context.Context, id oauth.Hash) error {
	if _, err := d.exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, id[:]); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
