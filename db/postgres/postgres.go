// Package postgres is apistore's store for clusters, on PostgreSQL through
// pgx: schema, migrations and every SQL statement. It implements the same
// storage interfaces as package sqlite and passes the same conformance
// suite (db/dbtest).
//
// Nodes sharing one database share everything that changes behaviour:
// the access generation that keeps their validation caches exact
// (generation.go), the brute-force counters, the tier quotas, the session
// cookies' keys and the job locks. The database named must be the primary:
// a read replica lags behind commits, and the generation read there would
// not prove that a cache is fresh.
package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apistore/apistore/db/internal/partition"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// ErrNewerSchema is returned by Open for a database a newer apistore has
// migrated.
var ErrNewerSchema = errors.New("the database was written by a newer apistore")

// ErrClosed is the error of a call made once Close has begun.
var ErrClosed = errors.New("the database is closed")

// connectTimeout bounds each new connection when the URL sets none
// (connect_timeout): without it an unreachable server would hold a request
// for as long as the operating system retries.
const connectTimeout = 10 * time.Second

// DB is an open PostgreSQL store: a pool of connections for the queries,
// and one connection of its own for the access generation's reads.
type DB struct {
	pool     *pgxpool.Pool
	gen      generationReader
	location string
	// base is canceled by stop at Close, ending what runs on its own
	// (generation reads, the node's watcher).
	base   context.Context
	stop   context.CancelFunc
	closed atomic.Bool
	// partitions is the token partitioning (partition.go).
	partitions partition.Current
	// node is the connection that holds the partitioning's lock for
	// this node (partition.go), once PartitionTokens has run; nodeMu
	// covers every use of it. watch watches it from then until Close,
	// and nodeDone is closed when the watcher has ended.
	nodeMu   sync.Mutex
	node     *pgx.Conn
	watch    nodeWatch
	nodeDone chan struct{}
	// nodeErr is the error that stopped the node, also delivered once on
	// failed (Failed); no connection is made for the node after it.
	nodeErr error
	failed  chan error
	// nodeID is the node's row in partition_nodes; member is set once
	// it joined, and its token writes are guarded (partition.go);
	// unjoined, under nodeMu, while it holds the lock again without
	// having recorded itself again (joinAgain).
	nodeID   string
	member   atomic.Bool
	unjoined bool
}

// Open connects to the database at url and migrates it. The URL may tune
// the pool as pgxpool allows (pool_max_conns…); by default it holds
// max(8, 4×CPUs) connections, and connections name themselves apistore
// (application_name) unless the URL names them.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL database: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL database: %w", err)
	}
	// On a pooled connection, kept for the queries: a new backend costs
	// the server tens of milliseconds of CPU. One whose lock may outlive
	// a failure is closed rather than returned to the pool.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open PostgreSQL database: %w", err)
	}
	if err := migrate(ctx, conn.Conn()); err != nil {
		conn.Hijack().Close(context.Background())
		pool.Close()
		return nil, err
	}
	conn.Release()
	// The generation's reads have a connection of their own: when every
	// pooled one is busy, a read waiting for one would hold up every
	// request that validates a token.
	genCfg := cfg.Copy()
	genCfg.MaxConns, genCfg.MinConns, genCfg.MinIdleConns = 1, 0, 0
	genPool, err := pgxpool.NewWithConfig(ctx, genCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open PostgreSQL database: %w", err)
	}
	base, stop := context.WithCancel(context.Background())
	d := &DB{pool: pool, location: withoutPassword(url), base: base, stop: stop, watch: defaultNodeWatch, failed: make(chan error, 1),
		nodeID: rand.Text()}
	d.gen.pool, d.gen.base = genPool, base
	if err := d.indexMissing(ctx); err != nil {
		d.Close()
		return nil, err
	}
	parts, err := partition.Read(stringsOn(ctx, d.pool))
	if err != nil {
		d.Close()
		return nil, err
	}
	d.partitions.Store(parts)
	return d, nil
}

// poolConfig parses url and sets what the URL leaves unset.
func poolConfig(url string) (*pgxpool.Config, error) {
	// pgxpool.ParseConfig drops pool_max_conns from the parameters it
	// returns; pgx.ParseConfig keeps it, so that it shows here whether the
	// URL set it.
	plain, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if _, set := plain.RuntimeParams["pool_max_conns"]; !set {
		// Each request holds a connection for a few short statements;
		// PostgreSQL waits on disk and network, not CPU, so more than one
		// per CPU keeps it busy.
		cfg.MaxConns = int32(max(8, 4*runtime.NumCPU()))
	}
	if _, set := cfg.ConnConfig.RuntimeParams["application_name"]; !set {
		cfg.ConnConfig.RuntimeParams["application_name"] = "apistore"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	// The statements are written for READ COMMITTED, PostgreSQL's default,
	// whatever the database or the URL sets: the token writes' guard
	// (partition.go) reads its node's row after waiting for a lock, and
	// must see the row as it is then, not as a snapshot taken before.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	return cfg, nil
}

// withoutPassword is url with any password taken out, in the user
// information or as a parameter.
func withoutPassword(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "postgres://…" // unreachable: pgx parsed it already
	}
	if u.User != nil {
		if _, set := u.User.Password(); set {
			u.User = url.User(u.User.Username())
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Close ends every connection; calls made afterwards return an error.
func (d *DB) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.stop()
	d.closeNode()
	d.gen.pool.Close()
	d.pool.Close()
	return nil
}

// Location names the database: its URL without the password.
func (d *DB) Location() string { return d.location }

// Ping checks that the database answers a query on apistore's schema: a
// connection alone does not show that the database is the right one.
func (d *DB) Ping(ctx context.Context) error {
	var n int
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// querier is the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// exec runs a write statement, refusing text PostgreSQL cannot store
// (text.go) before sending it.
func exec(ctx context.Context, q querier, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := checkText(args); err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := q.Exec(ctx, sql, args...)
	return tag, textError(err)
}

// queryRow runs a query for one row. Text PostgreSQL cannot hold can match
// no row: the row is then pgx.ErrNoRows (ErrNotFound through notFound),
// as SQLite would answer, and the query is not sent.
func queryRow(ctx context.Context, q querier, sql string, args ...any) pgx.Row {
	if checkText(args) != nil {
		return errRow{pgx.ErrNoRows}
	}
	return q.QueryRow(ctx, sql, args...)
}

// query runs a query for rows; text PostgreSQL cannot hold is refused.
func query(ctx context.Context, q querier, sql string, args ...any) (pgx.Rows, error) {
	if err := checkText(args); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, sql, args...)
	return rows, textError(err)
}

// writeRow runs a write that returns a row (INSERT … RETURNING), scanning
// it into dest; text PostgreSQL cannot store is refused, as by exec.
func writeRow(ctx context.Context, q querier, sql string, args []any, dest ...any) error {
	if err := checkText(args); err != nil {
		return err
	}
	return textError(q.QueryRow(ctx, sql, args...).Scan(dest...))
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// maxAttempts bounds the runs of a statement or transaction that
// PostgreSQL chose as a deadlock's victim.
const maxAttempts = 3

// retryable reports an error after which the whole transaction may run
// again: a deadlock or a serialisation failure, whose transaction
// PostgreSQL rolled back. Locks on the access generation are taken in one
// order (migration 0023), but foreign keys' cascades lock rows table by
// table, and a refresh rotation that locked its token and then checks its
// key can meet the deletion of that key's application coming the other way.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// retried runs run, again (up to maxAttempts in all) while PostgreSQL
// rolls it back to break a deadlock or a serialisation failure.
func retried[T any](run func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := run()
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return v, err
		}
	}
}

// exec is exec on the pool, run again when PostgreSQL broke a deadlock by
// rolling it back.
func (d *DB) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return retried(func() (pgconn.CommandTag, error) { return exec(ctx, d.pool, sql, args...) })
}

// tx runs fn in a transaction, committing when it returns nil. fn runs
// again (from the start, in a new transaction) when PostgreSQL rolled the
// transaction back to break a deadlock; it must use only tx.
func (d *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	_, err := retried(func() (struct{}, error) { return struct{}{}, pgx.BeginFunc(ctx, d.pool, fn) })
	return textError(err)
}

// lockAccess locks the access generation's row, as the triggers of
// migration 0023 do before a statement that may bump it, for a transaction
// that locks other rows first and bumps the generation afterwards: taking
// it first keeps the one lock order.
func lockAccess(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM access_generation WHERE id = 1 FOR NO KEY UPDATE`)
	return err
}

// notFound wraps oauth.ErrNotFound for pgx.ErrNoRows.
func notFound(what string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, oauth.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isUnique reports a unique (or primary key) violation, by its SQLSTATE.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// oneRow checks that a write changed a row: none is ErrNotFound.
func oneRow(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, portal.ErrNotFound)
	}
	return nil
}

// isForeignKey reports a foreign key violation: a row that names one that
// does not exist.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}
