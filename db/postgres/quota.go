package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/portal"
)

// TakeQuota takes up to want calls from k's count in the one-minute window
// that starts at window, of which limit are allowed, and returns how many
// it got: 0 when the window is spent. A window older than the one stored
// (a node whose clock lags) counts against the stored one.
//
// The count's row is locked (FOR UPDATE) from its read to the commit of
// its new value, so concurrent callers on any node take turns per key and
// never grant more than limit in a window between them. A key's first
// caller makes its row first (an insert that, meeting another's, waits for
// it and then does nothing), so there is always a row to lock.
func (d *DB) TakeQuota(ctx context.Context, k portal.QuotaKey, window time.Time, want, limit int) (int, error) {
	if !textOK(k.KeyType) {
		return 0, fmt.Errorf("take quota: %w", ErrInvalidText)
	}
	var granted int
	err := d.tx(ctx, func(tx pgx.Tx) error {
		start, used := window.UnixMilli(), 0
		read := func() (int64, error) {
			var stored int64
			err := tx.QueryRow(ctx, `SELECT window_start, used FROM quota_windows
				WHERE app_id = $1 AND api_id = $2 AND key_type = $3 FOR UPDATE`, k.AppID, k.APIID, k.KeyType).Scan(&stored, &used)
			return stored, err
		}
		stored, err := read()
		if errors.Is(err, pgx.ErrNoRows) {
			if _, err := tx.Exec(ctx, `INSERT INTO quota_windows (app_id, api_id, key_type, window_start, used)
				VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING`, k.AppID, k.APIID, k.KeyType, start); err != nil {
				return err
			}
			stored, err = read()
		}
		switch {
		case err != nil:
			return err
		case stored >= start:
			start = stored
		default:
			used = 0
		}
		granted = max(0, min(want, limit-used))
		_, err = tx.Exec(ctx, `UPDATE quota_windows SET window_start = $4, used = $5
			WHERE app_id = $1 AND api_id = $2 AND key_type = $3`, k.AppID, k.APIID, k.KeyType, start, used+granted)
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
	tag, err := d.exec(ctx, `DELETE FROM quota_windows WHERE window_start < $1`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete old quota windows: %w", err)
	}
	return tag.RowsAffected(), nil
}
