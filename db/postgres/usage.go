package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// RecordUsage stores a batch of calls with one COPY and adds them to the
// rollups with one upsert per rollup, in one transaction. Each upsert reads
// its rows from arrays (unnest), already summed and sorted by key
// (portal.RollUp): a key appears once per statement, as ON CONFLICT needs,
// and concurrent writers lock rows in the same order.
func (d *DB) RecordUsage(ctx context.Context, calls []portal.Usage) error {
	if len(calls) == 0 {
		return nil
	}
	rows := make([][]any, len(calls))
	for i, u := range calls {
		rows[i] = []any{u.At.UnixMilli(), u.AppID, u.APIID, u.APIName, u.APIVersion, u.Method, u.Resource, u.KeyType,
			int32(u.Status), int32(u.Fault), u.Latency.Microseconds()}
		if err := checkText(rows[i]); err != nil {
			return fmt.Errorf("record usage: %w", err)
		}
	}
	r := portal.RollUp(calls)
	var cs rollupColumns
	for _, c := range r.Calls {
		cs.key(c.Span, c.Bucket, c.AppID, c.APIID)
		cs.text1, cs.int1, cs.int2 = append(cs.text1, c.KeyType), append(cs.int1, int64(c.Status)), append(cs.int2, int64(c.Fault))
		cs.n1, cs.n2 = append(cs.n1, c.Calls), append(cs.n2, c.Latency.Microseconds())
	}
	var rs rollupColumns
	for _, c := range r.Resources {
		rs.key(c.Span, c.Bucket, c.AppID, c.APIID)
		rs.text1, rs.text2 = append(rs.text1, c.Method), append(rs.text2, c.Resource)
		rs.n1, rs.n2 = append(rs.n1, c.Calls), append(rs.n2, c.Errors)
	}
	var ls rollupColumns
	for _, c := range r.Latencies {
		ls.key(c.Span, c.Bucket, c.AppID, c.APIID)
		ls.int1, ls.n1 = append(ls.int1, int64(c.Bin)), append(ls.n1, c.Calls)
	}
	var acs rollupColumns
	for _, c := range r.APICalls {
		acs.key(c.Span, c.Bucket, 0, c.APIID)
		acs.text1, acs.int1, acs.int2 = append(acs.text1, c.KeyType), append(acs.int1, int64(c.Status)), append(acs.int2, int64(c.Fault))
		acs.n1, acs.n2 = append(acs.n1, c.Calls), append(acs.n2, c.Latency.Microseconds())
	}
	var als rollupColumns
	for _, c := range r.APILatencies {
		als.key(c.Span, c.Bucket, 0, c.APIID)
		als.int1, als.n1 = append(als.int1, int64(c.Bin)), append(als.n1, c.Calls)
	}
	var ps rollupColumns
	for _, c := range r.Apps {
		ps.key(c.Span, c.Bucket, c.AppID, c.APIID)
		ps.n1, ps.n2 = append(ps.n1, c.Calls), append(ps.n2, c.Errors)
	}
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"api_usage"},
			[]string{"at", "app_id", "api_id", "api_name", "api_version", "method", "resource", "key_type", "status", "fault", "latency_us"},
			pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO usage_calls (span, bucket, app_id, api_id, key_type, status, fault, calls, latency_us)
			SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::int[], $7::int[], $8::bigint[], $9::bigint[])
			ON CONFLICT (app_id, span, bucket, api_id, key_type, status, fault) DO UPDATE
			SET calls = usage_calls.calls + excluded.calls, latency_us = usage_calls.latency_us + excluded.latency_us`,
			cs.span, cs.bucket, cs.app, cs.api, cs.text1, cs.int1, cs.int2, cs.n1, cs.n2); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO usage_resources (span, bucket, app_id, api_id, method, resource, calls, errors)
			SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
			ON CONFLICT (app_id, span, bucket, api_id, method, resource) DO UPDATE
			SET calls = usage_resources.calls + excluded.calls, errors = usage_resources.errors + excluded.errors`,
			rs.span, rs.bucket, rs.app, rs.api, rs.text1, rs.text2, rs.n1, rs.n2); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO usage_latency (span, bucket, app_id, api_id, bin, calls)
			SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[], $5::int[], $6::bigint[])
			ON CONFLICT (app_id, span, bucket, api_id, bin) DO UPDATE SET calls = usage_latency.calls + excluded.calls`,
			ls.span, ls.bucket, ls.app, ls.api, ls.int1, ls.n1)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO usage_api_calls (span, bucket, api_id, key_type, status, fault, calls, latency_us)
			SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::text[], $5::int[], $6::int[], $7::bigint[], $8::bigint[])
			ON CONFLICT (api_id, span, bucket, key_type, status, fault) DO UPDATE
			SET calls = usage_api_calls.calls + excluded.calls, latency_us = usage_api_calls.latency_us + excluded.latency_us`,
			acs.span, acs.bucket, acs.api, acs.text1, acs.int1, acs.int2, acs.n1, acs.n2); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO usage_api_latency (span, bucket, api_id, bin, calls)
			SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::int[], $5::bigint[])
			ON CONFLICT (api_id, span, bucket, bin) DO UPDATE SET calls = usage_api_latency.calls + excluded.calls`,
			als.span, als.bucket, als.api, als.int1, als.n1); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO usage_api_apps (span, bucket, api_id, app_id, calls, errors)
			SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
			ON CONFLICT (api_id, span, bucket, app_id) DO UPDATE
			SET calls = usage_api_apps.calls + excluded.calls, errors = usage_api_apps.errors + excluded.errors`,
			ps.span, ps.bucket, ps.api, ps.app, ps.n1, ps.n2)
		return err
	})
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	return nil
}

// rollupColumns are the rows of one rollup upsert as one array per column:
// the key that every rollup shares, then its own columns.
type rollupColumns struct {
	span, bucket, app, api []int64
	text1, text2           []string
	int1, int2             []int64
	n1, n2                 []int64
}

func (c *rollupColumns) key(span time.Duration, bucket time.Time, app, api int64) {
	c.span, c.bucket = append(c.span, seconds(span)), append(c.bucket, bucket.Unix())
	c.app, c.api = append(c.app, app), append(c.api, api)
}

// rollupWhere is the WHERE clause of a rollup query; the application and
// the API are named only when set, so that their indexes serve.
func rollupWhere(q portal.UsageQuery) (string, []any) {
	return rollupWhereAfter(nil, q)
}

// rollupWhereAfter is rollupWhere for a statement whose arguments start
// with args.
func rollupWhereAfter(args []any, q portal.UsageQuery) (string, []any) {
	args = append(args, seconds(q.Span), q.From.Unix(), q.To.Unix())
	n := len(args)
	where := fmt.Sprintf(` WHERE span = $%d AND bucket >= $%d AND bucket < $%d`, n-2, n-1, n)
	if q.AppID != 0 {
		args = append(args, q.AppID)
		where += fmt.Sprintf(` AND app_id = $%d`, len(args))
	}
	if q.APIID != 0 {
		args = append(args, q.APIID)
		where += fmt.Sprintf(` AND api_id = $%d`, len(args))
	}
	if q.TenantID != 0 {
		args = append(args, q.TenantID)
		where += fmt.Sprintf(` AND api_id IN (SELECT id FROM apis WHERE tenant_id = $%d)`, len(args))
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
	return apiTable, "0::bigint"
}

// UsageCalls reads the call counts of the buckets a query selects, oldest
// first.
func (d *DB) UsageCalls(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error) {
	where, args := rollupWhere(q)
	table, app := perApp(q, "usage_calls", "usage_api_calls")
	rows, err := query(ctx, d.pool, `SELECT bucket, `+app+`, api_id, key_type, status, fault, calls, latency_us
		FROM `+table+where+` ORDER BY bucket`, args...)
	return callCounts(rows, err, q.Span)
}

// callCounts reads rows of bucket, application, API, key type, status,
// fault, calls and latency.
func callCounts(rows pgx.Rows, err error, span time.Duration) ([]portal.CallCount, error) {
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
	args = append(args, max(limit, 0))
	rows, err := query(ctx, d.pool, `SELECT api_id, method, resource, sum(calls)::bigint, sum(errors)::bigint
		FROM usage_resources`+where+` GROUP BY api_id, method, resource
		ORDER BY sum(calls) DESC, api_id, method, resource LIMIT $`+fmt.Sprint(len(args)), args...)
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
	rows, err := query(ctx, d.pool, `SELECT bucket, bin, sum(calls)::bigint FROM `+table+where+`
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
	rows, err := query(ctx, d.pool, `SELECT bucket, app_id, api_id, calls, errors FROM usage_api_apps`+where+`
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
		var where string
		where, args = rollupWhereAfter(args, p)
		if i > 0 {
			parts += ` UNION ALL `
		}
		parts += `SELECT app_id, calls, errors FROM usage_api_apps` + where
	}
	args = append(args, max(limit, 0))
	rows, err := query(ctx, d.pool, `SELECT app_id, sum(calls)::bigint, sum(errors)::bigint FROM (`+parts+`) AS parts
		GROUP BY app_id ORDER BY sum(calls) DESC, app_id LIMIT $`+fmt.Sprint(len(args)), args...)
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
	return d.summedCalls(ctx, q, "api_id, ''::text, 0::integer, 0::integer", "api_id")
}

// UsageCallsByKind reads the calls of each key type, status and fault in
// each bucket a query selects, the APIs added up (APIID 0), oldest first.
func (d *DB) UsageCallsByKind(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error) {
	return d.summedCalls(ctx, q, "0::bigint, key_type, status, fault", "key_type, status, fault")
}

// summedCalls reads the call counts a query selects summed per bucket and
// the columns group names: keys are the API, key type, status and fault
// read (a constant for those added up).
func (d *DB) summedCalls(ctx context.Context, q portal.UsageQuery, keys, group string) ([]portal.CallCount, error) {
	where, args := rollupWhere(q)
	table, app := perApp(q, "usage_calls", "usage_api_calls")
	if q.AppID != 0 {
		group = "app_id, " + group
	}
	rows, err := query(ctx, d.pool, `SELECT bucket, `+app+`, `+keys+`, sum(calls)::bigint, sum(latency_us)::bigint
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
		tag, err := d.exec(ctx, `DELETE FROM `+table+` WHERE span = $1 AND bucket < $2`, seconds(span), before.Unix())
		if err != nil {
			return total, fmt.Errorf("delete old rollups: %w", err)
		}
		total += tag.RowsAffected()
	}
	return total, nil
}

// UsageOf lists an application's recorded calls, newest first, at most
// limit; a negative limit is none, as SQLite reads LIMIT -1 (PostgreSQL
// refuses a negative LIMIT, and reads NULL as none).
func (d *DB) UsageOf(ctx context.Context, appID int64, limit int) ([]portal.Usage, error) {
	var bound *int
	if limit >= 0 {
		bound = &limit
	}
	rows, err := query(ctx, d.pool, `SELECT `+rowmap.UsageColumns+`
		FROM api_usage WHERE app_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, appID, bound)
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list usage", rowmap.Usage)
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

// AuditCounts counts the audit events of each kind in buckets of span,
// from (included) to (excluded), oldest first.
func (d *DB) AuditCounts(ctx context.Context, tenantID int64, span time.Duration, from, to time.Time) ([]portal.EventCount, error) {
	return d.eventCounts(ctx, `SELECT at / 1000 / $1 * $1, event, count(*)::bigint FROM audit_events WHERE at >= $2 AND at < $3
		AND ($4::bigint = 0 OR tenant_id = $4) GROUP BY 1, 2 ORDER BY 1, 2`, span, from, to, tenantID)
}

// TokenCounts counts the access tokens issued with each grant type in
// buckets of span, from (included) to (excluded), oldest first, from the
// counts kept as they are issued (token_issue_counts, which outlive token
// cleanup), and the tokens active at now.
func (d *DB) TokenCounts(ctx context.Context, span time.Duration, from, to, now time.Time) ([]portal.EventCount, int64, error) {
	issued, err := d.eventCounts(ctx, `SELECT bucket, grant_type, sum(n)::bigint FROM token_issue_counts
		WHERE span = $1 AND bucket >= $2::bigint / 1000 AND bucket < $3::bigint / 1000 GROUP BY 1, 2 ORDER BY 1, 2`, span, from, to)
	if err != nil {
		return nil, 0, err
	}
	var active int64
	if err := queryRow(ctx, d.pool, `SELECT count(*) FROM `+d.parts().AllOrDefault()+` t WHERE NOT revoked AND (expires_at IS NULL OR expires_at > $1)`,
		now.UnixMilli()).Scan(&active); err != nil {
		return nil, 0, fmt.Errorf("count active tokens: %w", err)
	}
	return issued, active, nil
}

func (d *DB) eventCounts(ctx context.Context, sql string, span time.Duration, from, to time.Time, more ...any) ([]portal.EventCount, error) {
	rows, err := query(ctx, d.pool, sql, append([]any{seconds(span), from.UnixMilli(), to.UnixMilli()}, more...)...)
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "count events", rowmap.EventCount)
}
