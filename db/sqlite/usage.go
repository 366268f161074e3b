package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/apistore/apistore/portal"
)

// RecordUsage stores a batch of calls in one transaction, with one
// prepared statement: parsing is most of an INSERT's cost in SQLite.
func (d *DB) RecordUsage(ctx context.Context, calls []portal.Usage) error {
	if len(calls) == 0 {
		return nil
	}
	return d.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO api_usage (at, app_id, api_id, api_name, api_version, method, resource,
			key_type, status, latency_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("record usage: %w", err)
		}
		defer st.Close()
		for _, u := range calls {
			if _, err := st.ExecContext(ctx, u.At.UnixMilli(), u.AppID, u.APIID, u.APIName, u.APIVersion, u.Method,
				u.Resource, u.KeyType, u.Status, u.Latency.Microseconds()); err != nil {
				return fmt.Errorf("record usage: %w", err)
			}
		}
		return nil
	})
}

// UsageOf lists an application's recorded calls, newest first, at most limit.
func (d *DB) UsageOf(ctx context.Context, appID int64, limit int) ([]portal.Usage, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT at, app_id, api_id, api_name, api_version, method, resource, key_type, status, latency_us
		FROM api_usage WHERE app_id = ? ORDER BY at DESC, id DESC LIMIT ?`, appID, limit)
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	defer rows.Close()
	var out []portal.Usage
	for rows.Next() {
		var u portal.Usage
		var at, latency int64
		if err := rows.Scan(&at, &u.AppID, &u.APIID, &u.APIName, &u.APIVersion, &u.Method, &u.Resource, &u.KeyType,
			&u.Status, &latency); err != nil {
			return nil, fmt.Errorf("list usage: %w", err)
		}
		u.At, u.Latency = time.UnixMilli(at), time.Duration(latency)*time.Microsecond
		out = append(out, u)
	}
	return out, rows.Err()
}

// usagePruneChunk bounds one DELETE, so that pruning a long history does not
// hold the write lock for long (a variable for tests).
var usagePruneChunk = 10000

// DeleteUsageBefore removes calls recorded before a time, in chunks, and
// says how many. Rows are appended in (nearly) time order, so the oldest are
// the lowest ids: each chunk walks the table from its start and stops at the
// first newer row, without an index on the time.
func (d *DB) DeleteUsageBefore(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := d.w.ExecContext(ctx, `DELETE FROM api_usage WHERE id IN
			(SELECT id FROM api_usage WHERE id < coalesce((SELECT id FROM api_usage WHERE at >= ? ORDER BY id LIMIT 1), 1 << 62)
			 ORDER BY id LIMIT ?)`, before.UnixMilli(), usagePruneChunk)
		if err != nil {
			return total, fmt.Errorf("delete old usage: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("delete old usage: %w", err)
		}
		if total += n; n < int64(usagePruneChunk) {
			return total, nil
		}
	}
}
