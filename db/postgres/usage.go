package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/portal"
)

// RecordUsage stores a batch of calls with one COPY: one statement, so the
// batch is stored whole or not at all, and one round trip.
func (d *DB) RecordUsage(ctx context.Context, calls []portal.Usage) error {
	if len(calls) == 0 {
		return nil
	}
	rows := make([][]any, len(calls))
	for i, u := range calls {
		rows[i] = []any{u.At.UnixMilli(), u.AppID, u.APIID, u.APIName, u.APIVersion, u.Method, u.Resource, u.KeyType,
			int32(u.Status), u.Latency.Microseconds()}
		if err := checkText(rows[i]); err != nil {
			return fmt.Errorf("record usage: %w", err)
		}
	}
	_, err := d.pool.CopyFrom(ctx, pgx.Identifier{"api_usage"},
		[]string{"at", "app_id", "api_id", "api_name", "api_version", "method", "resource", "key_type", "status", "latency_us"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("record usage: %w", textError(err))
	}
	return nil
}

// UsageOf lists an application's recorded calls, newest first, at most
// limit; a negative limit is none, as SQLite reads LIMIT -1 (PostgreSQL
// refuses a negative LIMIT, and reads NULL as none).
func (d *DB) UsageOf(ctx context.Context, appID int64, limit int) ([]portal.Usage, error) {
	var bound *int
	if limit >= 0 {
		bound = &limit
	}
	rows, err := query(ctx, d.pool, `SELECT at, app_id, api_id, api_name, api_version, method, resource, key_type, status, latency_us
		FROM api_usage WHERE app_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, appID, bound)
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	defer rows.Close()
	var out []portal.Usage
	for rows.Next() {
		var u portal.Usage
		var at, latency int64
		var status int32
		if err := rows.Scan(&at, &u.AppID, &u.APIID, &u.APIName, &u.APIVersion, &u.Method, &u.Resource, &u.KeyType,
			&status, &latency); err != nil {
			return nil, fmt.Errorf("list usage: %w", err)
		}
		u.At, u.Status, u.Latency = time.UnixMilli(at), int(status), time.Duration(latency)*time.Microsecond
		out = append(out, u)
	}
	return out, rows.Err()
}

// usagePruneChunk bounds the ids one DELETE covers, so that pruning a long
// history is many short statements rather than one that runs for long (a
// variable for tests).
var usagePruneChunk int64 = 10000

// DeleteUsageBefore removes calls recorded before a time, in chunks, and
// says how many. Rows are appended in (nearly) time order, so the oldest are
// the lowest ids: the first row at or after the time is found by walking
// the primary key from its start, without an index on the time (migration
// 0031), and the ids below it are deleted a range at a time, as SQLite's
// store does.
func (d *DB) DeleteUsageBefore(ctx context.Context, before time.Time) (int64, error) {
	var lo, end *int64
	if err := d.pool.QueryRow(ctx, `SELECT (SELECT min(id) FROM api_usage),
		coalesce((SELECT id FROM api_usage WHERE at >= $1 ORDER BY id LIMIT 1), (SELECT max(id) + 1 FROM api_usage))`,
		before.UnixMilli()).Scan(&lo, &end); err != nil {
		return 0, fmt.Errorf("delete old usage: %w", err)
	}
	if lo == nil {
		return 0, nil
	}
	var total int64
	for from := *lo; from < *end; from += usagePruneChunk {
		tag, err := d.exec(ctx, `DELETE FROM api_usage WHERE id >= $1 AND id < least($2::bigint, $3::bigint)`,
			from, from+usagePruneChunk, *end)
		if err != nil {
			return total, fmt.Errorf("delete old usage: %w", err)
		}
		total += tag.RowsAffected()
	}
	return total, nil
}
