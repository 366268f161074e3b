package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/apistore/apistore/portal"
)

// TakeQuota takes up to want calls from k's count in the one-minute window
// that starts at window, of which limit are allowed, and returns how many
// it got: 0 when the window is spent. A window older than the one stored
// (a node whose clock lags) counts against the stored one.
func (d *DB) TakeQuota(ctx context.Context, k portal.QuotaKey, window time.Time, want, limit int) (int, error) {
	var granted int
	err := d.write(ctx, func(tx *sql.Tx) error {
		start, used := window.UnixMilli(), 0
		var stored int64
		err := tx.QueryRowContext(ctx, `SELECT window_start, used FROM quota_windows
			WHERE app_id = ? AND api_id = ? AND key_type = ?`, k.AppID, k.APIID, k.KeyType).Scan(&stored, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			used = 0
		case err != nil:
			return err
		case stored >= start:
			start = stored
		default:
			used = 0
		}
		granted = max(0, min(want, limit-used))
		_, err = tx.ExecContext(ctx, `INSERT INTO quota_windows (app_id, api_id, key_type, window_start, used)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (app_id, api_id, key_type)
			DO UPDATE SET window_start = excluded.window_start, used = excluded.used`,
			k.AppID, k.APIID, k.KeyType, start, used+granted)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("take quota: %w", err)
	}
	return granted, nil
}

// DeleteQuotasBefore removes the counts of windows that started before a
// time: those of applications or APIs no longer called, or gone.
func (d *DB) DeleteQuotasBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := d.w.ExecContext(ctx, `DELETE FROM quota_windows WHERE window_start < ?`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete old quota windows: %w", err)
	}
	return res.RowsAffected()
}
