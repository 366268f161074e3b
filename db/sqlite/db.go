// Package sqlite is apistore's embedded store, on SQLite: schema,
// migrations and every SQL statement. It implements the storage interfaces
// that package oauth, the handlers and the gateway declare, as package
// postgres does, and both pass the conformance suite in db/dbtest.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apistore/apistore/db/internal/partition"
	"github.com/apistore/apistore/oauth"
	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open apistore database: one writer connection, so writes never
// contend for SQLite's lock, and a pool of read-only connections (WAL lets
// them read while the writer writes).
type DB struct {
	w *sql.DB
	r *sql.DB
	// jobs feeds the group-commit writer (batch.go).
	jobs       chan writeJob
	jobsMu     sync.RWMutex // held to send on jobs; jobsClosed under it
	jobsClosed bool
	writerDone chan struct{}
	// readStmts and writeStmts hold the hot paths' prepared statements.
	readStmts  stmtCache
	writeStmts map[string]*sql.Stmt
	// watch is one dedicated connection that reads the access generation
	// (genQ) and, kept open, keeps the WAL index (shm) in place; lastCheck
	// is the generation last read and the index's header then (see
	// Generation).
	watch       *sql.DB
	genQ        *sql.Stmt
	genMu       sync.Mutex
	lastCheck   atomic.Pointer[versionCheck]
	shm         *walIndex
	shmReleased sync.Once
	path        string
	// running are RunAlone's locks.
	running jobLocks
	// partitions is the token partitioning (partition.go).
	partitions partition.Current
}

// Open opens (creating it if needed) the database file and migrates it.
// The file holds password and secret hashes: it is made, or made again,
// readable by its owner only, and SQLite gives its -wal and -shm files the
// same permissions.
func Open(path string) (*DB, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?"
	w, err := sql.Open("sqlite", dsn+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	d := &DB{w: w, path: path}
	if err := d.migrate(context.Background()); err != nil {
		w.Close()
		return nil, err
	}
	parts, err := partition.Read(stringsOn(context.Background(), w))
	if err != nil {
		w.Close()
		return nil, err
	}
	d.partitions.Store(parts)
	r, err := sql.Open("sqlite", dsn+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	readers := max(4, 2*runtime.NumCPU())
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	d.r = r
	if d.watch, err = sql.Open("sqlite", dsn+common+"&_pragma=query_only(1)"); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	d.watch.SetMaxOpenConns(1)
	d.watch.SetConnMaxIdleTime(0)
	d.readStmts.db = r
	if err := d.prepareWrites(); err != nil {
		d.Close()
		return nil, err
	}
	if d.genQ, err = d.watch.Prepare(`SELECT n FROM access_generation`); err != nil {
		d.Close()
		return nil, fmt.Errorf("prepare statements: %w", err)
	}
	var first int64 // opens the watch connection's WAL index, so the -shm file exists
	if err := d.genQ.QueryRow().Scan(&first); err != nil {
		d.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	d.shm = openWALIndex(path)
	if err := d.indexMissing(context.Background()); err != nil {
		d.Close()
		return nil, err
	}
	d.startWriter()
	return d, nil
}

// Close checkpoints the WAL and closes every connection.
func (d *DB) Close() error {
	if d.jobs != nil {
		d.stopWriter()
	}
	stmtErr := d.readStmts.close()
	for _, st := range d.writeStmts {
		stmtErr = errors.Join(stmtErr, st.Close())
	}
	_, _ = d.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	err := errors.Join(stmtErr, d.watch.Close(), d.r.Close(), d.w.Close())
	// Last: see walIndexes. Once: the descriptor may be another handle's too.
	if d.shm != nil {
		d.shmReleased.Do(func() { releaseWALIndex(d.shm) })
	}
	return err
}

// Path is the database file's name.
func (d *DB) Path() string { return d.path }

// Location names the database: its file's path.
func (d *DB) Location() string { return d.path }

// Ping checks that the database answers a query: a connection alone does
// not show that the file is readable.
func (d *DB) Ping(ctx context.Context) error {
	var n int
	if err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// migrate applies the embedded migrations not yet recorded, each in its own
// transaction.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	latest := 0
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad migration name %q", base)
		}
		if err := d.applyMigration(ctx, version, base, name); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		latest = max(latest, version)
	}
	// A database a newer apistore has migrated may hold data this one
	// would misread or damage: refuse it rather than run on it.
	var unknown sql.NullString
	if err := d.w.QueryRowContext(ctx, `SELECT max(name) FROM schema_migrations WHERE version > ?`, latest).Scan(&unknown); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if unknown.Valid {
		return fmt.Errorf("%w: it has migration %s, which this apistore does not know; run a newer apistore on it",
			ErrNewerSchema, unknown.String)
	}
	return nil
}

// ErrNewerSchema is returned by Open for a database a newer apistore has
// migrated.
var ErrNewerSchema = errors.New("the database was written by a newer apistore")

func (d *DB) applyMigration(ctx context.Context, version int, base, name string) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil || n > 0 {
			return err
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			version, base, time.Now().UnixMilli())
		return err
	})
}

// tx runs fn in a write transaction, committing when it returns nil.
func (d *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// words splits a space-separated column; joinWords makes one.
func words(s string) []string { return strings.Fields(s) }

func joinWords(list []string) string { return strings.Join(list, " ") }

// notFound wraps oauth.ErrNotFound for sql.ErrNoRows.
func notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, oauth.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isUnique reports a UNIQUE (or PRIMARY KEY) constraint failure, by
// SQLite's extended result code.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKey reports a FOREIGN KEY constraint failure: a row that names
// one that does not exist.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
