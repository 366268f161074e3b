package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// RecordUsage stores a batch of calls and adds them to the rollups, in one
// transaction, with one prepared statement per table: parsing is most of
// an INSERT's cost in SQLite.
func (d *DB) RecordUsage(ctx context.Context, calls []portal.Usage) error {
	if len(calls) == 0 {
		return nil
	}
	r := portal.RollUp(calls)
	return d.tx(ctx, func(tx *sql.Tx) error {
		err := insertCalls(ctx, tx, calls)
		if err == nil {
			err = each(ctx, tx, `INSERT INTO usage_calls (span, bucket, app_id, api_id, key_type, status, fault, calls, latency_us)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET calls = calls + excluded.calls,
				latency_us = latency_us + excluded.latency_us`, r.Calls, func(c portal.CallCount) []any {
				return []any{spanSeconds(c.Span), c.Bucket.Unix(), c.AppID, c.APIID, c.KeyType, c.Status, c.Fault, c.Calls,
					c.Latency.Microseconds()}
			})
		}
		if err == nil {
			err = each(ctx, tx, `INSERT INTO usage_resources (span, bucket, app_id, api_id, method, resource, calls, errors)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET calls = calls + excluded.calls,
				errors = errors + excluded.errors`, r.Resources, func(c portal.ResourceCount) []any {
				return []any{spanSeconds(c.Span), c.Bucket.Unix(), c.AppID, c.APIID, c.Method, c.Resource, c.Calls, c.Errors}
			})
		}
		if err == nil {
			err = each(ctx, tx, `INSERT INTO usage_latency (span, bucket, app_id, api_id, bin, calls)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET calls = calls + excluded.calls`, r.Latencies,
				func(c portal.LatencyCount) []any {
					return []any{spanSeconds(c.Span), c.Bucket.Unix(), c.AppID, c.APIID, c.Bin, c.Calls}
				})
		}
		if err == nil {
			err = each(ctx, tx, `INSERT INTO usage_api_calls (span, bucket, api_id, key_type, status, fault, calls, latency_us)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET calls = calls + excluded.calls,
				latency_us = latency_us + excluded.latency_us`, r.APICalls, func(c portal.CallCount) []any {
				return []any{spanSeconds(c.Span), c.Bucket.Unix(), c.APIID, c.KeyType, c.Status, c.Fault, c.Calls,
					c.Latency.Microseconds()}
			})
		}
		if err == nil {
			err = each(ctx, tx, `INSERT INTO usage_api_latency (span, bucket, api_id, bin, calls)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET calls = calls + excluded.calls`, r.APILatencies,
				func(c portal.LatencyCount) []any {
					return []any{spanSeconds(c.Span), c.Bucket.Unix(), c.APIID, c.Bin, c.Calls}
				})
		}
		if err == nil {
			err = each(ctx, tx, `INSERT INTO usage_api_apps (span, bucket, api_id, app_id, calls, errors)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET calls = calls + excluded.calls,
				errors = errors + excluded.errors`, r.Apps, func(c portal.AppCount) []any {
				return []any{spanSeconds(c.Span), c.Bucket.Unix(), c.APIID, c.AppID, c.Calls, c.Errors}
			})
		}
		if err != nil {
			return fmt.Errorf("record usage: %w", err)
		}
		return nil
	})
}

// callsPerInsert is how many calls one INSERT of insertCalls writes: one
// statement per call spent more on database/sql and the driver (binding,
// stepping, resetting, a result) than SQLite spent storing the row.
const callsPerInsert = 64

// insertCalls inserts the raw calls, callsPerInsert rows per statement.
func insertCalls(ctx context.Context, tx *sql.Tx, calls []portal.Usage) error {
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, 11*min(len(calls), callsPerInsert))
	for len(calls) > 0 {
		n := min(len(calls), callsPerInsert)
		args = args[:0]
		for _, u := range calls[:n] {
			args = append(args, u.At.UnixMilli(), u.AppID, u.APIID, u.APIName, u.APIVersion, u.Method, u.Resource, u.KeyType,
				u.Status, u.Fault, u.Latency.Microseconds())
		}
		var err error
		switch {
		case n < callsPerInsert: // the last few, once per batch
			_, err = tx.ExecContext(ctx, insertCallsSQL(n), args...)
		case full == nil:
			if full, err = tx.PrepareContext(ctx, insertCallsSQL(n)); err != nil {
				return err
			}
			fallthrough
		default:
			_, err = full.ExecContext(ctx, args...)
		}
		if err != nil {
			return err
		}
		calls = calls[n:]
		runtime.Gosched() // see yieldEvery
	}
	return nil
}

// insertCallsSQL is the INSERT of n calls.
func insertCallsSQL(n int) string {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	return `INSERT INTO api_usage (at, app_id, api_id, api_name, api_version, method, resource, key_type, status, fault,
		latency_us) VALUES ` + strings.Repeat(row+", ", n-1) + row
}

// each runs one prepared statement with the arguments of every row.
func each[T any](ctx context.Context, tx *sql.Tx, query string, rows []T, args func(T) []any) error {
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer st.Close()
	for i, row := range rows {
		if _, err := st.ExecContext(ctx, args(row)...); err != nil {
			return err
		}
		if i%yieldEvery == yieldEvery-1 {
			runtime.Gosched()
		}
	}
	return nil
}

// yieldEvery is how many rows RecordUsage writes before it lets other
// goroutines run (runtime.Gosched): a batch of thousands of calls takes
// tens of milliseconds of CPU, and Go would let it hold its processor for
// up to 10 ms at a time while gateway calls, each a few microseconds of
// work, waited behind it: with two processors busy, that was the
// gateway's slowest percent. insertCalls yields after each statement.
const yieldEvery = callsPerInsert

func spanSeconds(d time.Duration) int64 { return int64(d / time.Second) }

// rollupWhere is the WHERE clause of a rollup query; the application and
// the API are named only when set, so that the keys serve.
func rollupWhere(q portal.UsageQuery) (string, []any) {
	where := ` WHERE span = ? AND bucket >= ? AND bucket < ?`
	args := []any{spanSeconds(q.Span), q.From.Unix(), q.To.Unix()}
	if q.AppID != 0 {
		where += ` AND app_id = ?`
		args = append(args, q.AppID)
	}
	if q.APIID != 0 {
		where += ` AND api_id = ?`
		args = append(args, q.APIID)
	}
	if q.TenantID != 0 {
		where += ` AND api_id IN (SELECT id FROM apis WHERE tenant_id = ?)`
		args = append(args, q.TenantID)
	}
	return where, args
}

// perApp is the table of a rollup a query reads: the application's when it
// names one, else the API's (whose rows have no application: app_id reads
// 0).
func perApp(q portal.UsageQuery, appTable, apiTable string) (table, app string) {
	if q.AppID != 0 {
		return appTable, "app_id"
	}
	return apiTable, "0"
}

// UsageCalls reads the call counts of the buckets a query selects, oldest
// first.
func (d *DB) UsageCalls(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error) {
	where, args := rollupWhere(q)
	table, app := perApp(q, "usage_calls", "usage_api_calls")
	rows, err := d.r.QueryContext(ctx, `SELECT bucket, `+app+`, api_id, key_type, status, fault, calls, latency_us
		FROM `+table+where+` ORDER BY bucket`, args...)
	return callCounts(rows, err, q.Span)
}

// callCounts reads rows of bucket, application, API, key type, status,
// fault, calls and latency.
func callCounts(rows *sql.Rows, err error, span time.Duration) ([]portal.CallCount, error) {
	if err != nil {
		return nil, fmt.Errorf("read call counts: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "read call counts", rowmap.CallCount(span))
}

// UsageResources reads the busiest resources of the buckets a query
// selects, the most called first, at most limit. Resources are rolled up
// per application: a query of no application reads them all.
func (d *DB) UsageResources(ctx context.Context, q portal.UsageQuery, limit int) ([]portal.ResourceCount, error) {
	where, args := rollupWhere(q)
	rows, err := d.r.QueryContext(ctx, `SELECT api_id, method, resource, sum(calls), sum(errors)
		FROM usage_resources`+where+` GROUP BY api_id, method, resource
		ORDER BY sum(calls) DESC, api_id, method, resource LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("read resource counts: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "read resource counts", rowmap.ResourceCount(q))
}

// UsageLatencies reads the calls per latency bin of each bucket a query
// selects (the applications and APIs added up), oldest first.
func (d *DB) UsageLatencies(ctx context.Context, q portal.UsageQuery) ([]portal.LatencyCount, error) {
	where, args := rollupWhere(q)
	table, _ := perApp(q, "usage_latency", "usage_api_latency")
	rows, err := d.r.QueryContext(ctx, `SELECT bucket, bin, sum(calls) FROM `+table+where+`
		GROUP BY bucket, bin ORDER BY bucket, bin`, args...)
	if err != nil {
		return nil, fmt.Errorf("read latency counts: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "read latency counts", rowmap.LatencyCount(q))
}

// UsageApps reads the calls of each application to each API in the
// buckets a query selects, oldest first.
func (d *DB) UsageApps(ctx context.Context, q portal.UsageQuery) ([]portal.AppCount, error) {
	where, args := rollupWhere(q)
	rows, err := d.r.QueryContext(ctx, `SELECT bucket, app_id, api_id, calls, errors FROM usage_api_apps`+where+`
		ORDER BY bucket`, args...)
	if err != nil {
		return nil, fmt.Errorf("read application counts: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "read application counts", rowmap.AppCount(q.Span))
}

// UsageTopApps reads the applications with the most calls in the buckets
// a query selects, summed over them (Bucket is the query's From), the most
// called first, at most limit. The whole days of a range of hours are read
// from the day rollup (portal.UsageQuery.Covering).
func (d *DB) UsageTopApps(ctx context.Context, q portal.UsageQuery, limit int) ([]portal.AppCount, error) {
	var parts string
	var args []any
	for i, p := range q.Covering() {
		where, a := rollupWhere(p)
		if i > 0 {
			parts += ` UNION ALL `
		}
		parts += `SELECT app_id, calls, errors FROM usage_api_apps` + where
		args = append(args, a...)
	}
	rows, err := d.r.QueryContext(ctx, `SELECT app_id, sum(calls), sum(errors) FROM (`+parts+`)
		GROUP BY app_id ORDER BY sum(calls) DESC, app_id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("read top applications: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "read top applications", rowmap.TopApp(q))
}

// UsageCallsByAPI reads the calls to each API in each bucket a query
// selects, their key types, statuses and faults added up (left empty),
// oldest first: what the administrators' page charts per API, a tenth of
// the rows of UsageCalls.
func (d *DB) UsageCallsByAPI(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error) {
	return d.summedCalls(ctx, q, "api_id, '', 0, 0", "api_id")
}

// UsageCallsByKind reads the calls of each key type, status and fault in
// each bucket a query selects, the APIs added up (APIID 0), oldest first.
func (d *DB) UsageCallsByKind(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error) {
	return d.summedCalls(ctx, q, "0, key_type, status, fault", "key_type, status, fault")
}

// summedCalls reads the call counts a query selects summed per bucket and
// the columns group names: keys are the API, key type, status and fault
// read (a constant for those added up, which the GROUP BY leaves out, so
// that the index's order serves).
func (d *DB) summedCalls(ctx context.Context, q portal.UsageQuery, keys, group string) ([]portal.CallCount, error) {
	where, args := rollupWhere(q)
	table, app := perApp(q, "usage_calls", "usage_api_calls")
	if q.AppID != 0 {
		group = "app_id, " + group
	}
	rows, err := d.r.QueryContext(ctx, `SELECT bucket, `+app+`, `+keys+`, sum(calls), sum(latency_us)
		FROM `+table+where+` GROUP BY bucket, `+group+` ORDER BY bucket, `+group, args...)
	return callCounts(rows, err, q.Span)
}

// rollupTables are every rollup, the tokens issued per grant type
// included, for pruning.
var rollupTables = []string{"usage_calls", "usage_resources", "usage_latency", "usage_api_calls", "usage_api_latency", "usage_api_apps",
	"token_issue_counts"}

// DeleteRollupsBefore removes the buckets of one width that start before a
// time, from every rollup, and says how many.
func (d *DB) DeleteRollupsBefore(ctx context.Context, span time.Duration, before time.Time) (int64, error) {
	var total int64
	for _, table := range rollupTables {
		res, err := d.w.ExecContext(ctx, `DELETE FROM `+table+` WHERE span = ? AND bucket < ?`, spanSeconds(span), before.Unix())
		if err != nil {
			return total, fmt.Errorf("delete old rollups: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("delete old rollups: %w", err)
		}
		total += n
	}
	return total, nil
}

// UsageOf lists an application's recorded calls, newest first, at most limit.
func (d *DB) UsageOf(ctx context.Context, appID int64, limit int) ([]portal.Usage, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+rowmap.UsageColumns+`
		FROM api_usage WHERE app_id = ? ORDER BY at DESC, id DESC LIMIT ?`, appID, limit)
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list usage", rowmap.Usage)
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

// AuditCounts counts the audit events of each kind in buckets of span,
// from (included) to (excluded), oldest first.
func (d *DB) AuditCounts(ctx context.Context, tenantID int64, span time.Duration, from, to time.Time) ([]portal.EventCount, error) {
	return d.eventCounts(ctx, `SELECT at / 1000 / ?1 * ?1, event, count(*) FROM audit_events WHERE at >= ?2 AND at < ?3
		AND (?4 = 0 OR tenant_id = ?4) GROUP BY 1, 2 ORDER BY 1, 2`, span, from, to, tenantID)
}

// TokenCounts counts the access tokens issued with each grant type in
// buckets of span, from (included) to (excluded), oldest first, from the
// counts kept as they are issued (token_issue_counts, which outlive token
// cleanup), and the tokens active at now.
func (d *DB) TokenCounts(ctx context.Context, span time.Duration, from, to, now time.Time) ([]portal.EventCount, int64, error) {
	issued, err := d.eventCounts(ctx, `SELECT bucket, grant_type, n FROM token_issue_counts
		WHERE span = ?1 AND bucket >= ?2 / 1000 AND bucket < ?3 / 1000 ORDER BY 1, 2`, span, from, to)
	if err != nil {
		return nil, 0, err
	}
	var active int64
	if err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM `+d.parts().AllOrDefault()+` t WHERE revoked = 0 AND (expires_at IS NULL OR expires_at > ?)`,
		now.UnixMilli()).Scan(&active); err != nil {
		return nil, 0, fmt.Errorf("count active tokens: %w", err)
	}
	return issued, active, nil
}

func (d *DB) eventCounts(ctx context.Context, query string, span time.Duration, from, to time.Time, more ...any) ([]portal.EventCount, error) {
	rows, err := d.r.QueryContext(ctx, query, append([]any{spanSeconds(span), from.UnixMilli(), to.UnixMilli()}, more...)...)
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "count events", rowmap.EventCount)
}
