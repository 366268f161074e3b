// Package pgtest gives each test its own PostgreSQL database on the
// throw-away server that scripts/postgres.sh starts: an empty one, or a copy
// of one migrated once. It is imported only by tests.
//
// Run the tests under the script, which sets APISTORE_TEST_POSTGRES:
//
//	scripts/postgres.sh run go test ./...
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// envAdminURL names the environment variable that holds the admin URL of the
// test server (scripts/postgres.sh run sets it).
const envAdminURL = "APISTORE_TEST_POSTGRES"

// namePrefix starts the name of every database NewDatabase makes, so that
// they can be told apart from anything else on a server.
const namePrefix = "apistore_test_"

// adminTimeout bounds each administrative step: connecting and its statements.
const adminTimeout = 30 * time.Second

// AdminURL returns the URL of a superuser on the test server, from
// APISTORE_TEST_POSTGRES, or "" when it is unset: callers skip then.
func AdminURL() string { return os.Getenv(envAdminURL) }

// NewDatabase creates a fresh, empty database on the test server and returns
// its URL: the admin URL with the database replaced. At cleanup it ends any
// connection still open to it and drops it. Without APISTORE_TEST_POSTGRES it
// fails the test; check AdminURL first to skip instead.
func NewDatabase(t testing.TB) string {
	t.Helper()
	// template0 rather than the default template1: no one can connect to
	// template0 or change it, so it is always empty, and a session left on
	// template1 cannot make CREATE DATABASE fail ("source database is being
	// accessed by other users").
	return newDatabase(t, "template0")
}

// NewMigratedDatabase is NewDatabase with a schema in place: the database is
// a copy of a template that migrate was run on once, so that each test does
// not pay for every migration again. schema names what migrate makes (a
// digest of the migrations): the template is made once per server and
// schema, shared by every test process on the server, and kept until the
// server is removed. migrate gets the URL of the template while it is made,
// and must close every connection it opened to it before it returns.
func NewMigratedDatabase(t testing.TB, schema string, migrate func(ctx context.Context, url string) error) string {
	t.Helper()
	admin, u := adminURL(t)
	name, err := migratedTemplate(admin, *u, schema, migrate)
	if err != nil {
		t.Fatalf("pgtest: template for schema %s: %v", schema, err)
	}
	return newDatabase(t, name)
}

// adminURL returns APISTORE_TEST_POSTGRES and its parsed form, or fails t.
func adminURL(t testing.TB) (string, *url.URL) {
	t.Helper()
	admin := AdminURL()
	if admin == "" {
		t.Fatal("pgtest: " + envAdminURL + " is not set: run the tests under scripts/postgres.sh run")
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s is not a postgres:// URL", envAdminURL)
	}
	return admin, u
}

// newDatabase creates a database copied from template (see NewDatabase).
func newDatabase(t testing.TB, template string) string {
	t.Helper()
	admin, u := adminURL(t)

	// 64 random bits: test processes run in parallel against one server, and
	// a name that collides would fail CREATE DATABASE.
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgtest: database name: %v", err)
	}
	name := namePrefix + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()

	// The default strategy, WAL_LOG, is kept: on PostgreSQL 15 here it took
	// 39 ms a database (median of 25, template0 or template1) and its drop
	// 7 ms; STRATEGY = FILE_COPY took 57 ms and 20 ms, and its checkpoints,
	// one before and one after each copy, slow every other test on the
	// server. Copying the migrated template took 80 ms where template0 took
	// 67 ms (medians of 15, on a loaded machine), and FILE_COPY 358 ms.
	err := withAdmin(admin, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE "+pgx.Identifier{template}.Sanitize())
		return err
	})
	if err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// Connections a test left open (a pool not closed, a server still
		// running) are ended first; WITH (FORCE), PostgreSQL 13+, also ends
		// one that connected in between.
		err := withAdmin(admin, func(ctx context.Context, conn *pgx.Conn) error {
			if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
				return fmt.Errorf("end its connections: %w", err)
			}
			_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
			return err
		})
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})

	return databaseURL(*u, name)
}

// databaseURL is the admin URL u with the database replaced by name.
func databaseURL(u url.URL, name string) string {
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// templateLock is the advisory lock key held on the admin database while a
// process makes a template: "pgtest t" in ASCII.
const templateLock int64 = 0x7067746573742074

// templates holds the names of the templates this process has found or
// made, by schema; templatesMu makes the tests of one process take turns.
var (
	templatesMu sync.Mutex
	templates   = map[string]string{}
)

// migratedTemplate returns the name of the template for schema, made now
// if the server has none. Processes take turns under an advisory lock; a
// template is made under another name and renamed only once migrated, so
// that its name on the server means it is complete, and it accepts no
// connections, so that nothing can change it or hold up a copy.
func migratedTemplate(admin string, u url.URL, schema string, migrate func(context.Context, string) error) (string, error) {
	templatesMu.Lock()
	defer templatesMu.Unlock()
	if name, ok := templates[schema]; ok {
		return name, nil
	}
	// A database name holds at most 63 bytes.
	digest := sha256.Sum256([]byte(schema))
	name := namePrefix + "template_" + hex.EncodeToString(digest[:8])
	building := name + "_building"
	err := withOwnAdmin(admin, func(ctx context.Context, conn *pgx.Conn) error {
		// Released when the connection closes, whatever happened.
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLock); err != nil {
			return fmt.Errorf("wait for another process's template: %w", err)
		}
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		ident := pgx.Identifier{building}.Sanitize()
		// One a process left half made when it was stopped.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
			return err
		}
		if err := migrate(ctx, databaseURL(u, building)); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident+" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"); err != nil {
			return err
		}
		// Waits a few seconds for connections that are closing; fails
		// if migrate left one open.
		_, err := conn.Exec(ctx, "ALTER DATABASE "+ident+" RENAME TO "+pgx.Identifier{name}.Sanitize())
		return err
	})
	if err != nil {
		return "", err
	}
	templates[schema] = name
	return name, nil
}

// withAdmin runs f on one of this process's admin connections (adminPool).
func withAdmin(admin string, f func(context.Context, *pgx.Conn) error) error {
	// Not t.Context(): it is canceled before cleanup functions run.
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	pool, err := adminPool(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error { return f(ctx, c.Conn()) })
}

// withOwnAdmin runs f on an admin connection of its own, closed when f
// returns, so that any session lock f takes ends with it.
func withOwnAdmin(admin string, f func(context.Context, *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	return f(ctx, conn)
}

// adminPools are the admin connections of this process, by admin URL,
// opened when first needed and kept until it exits: each test creates and
// drops a database, and a connection of their own for each costed the
// server a backend, about 27 ms of its CPU here. At most 2 are kept, so
// that the tests' own connections keep the server's other slots.
var (
	adminPoolsMu sync.Mutex
	adminPools   = map[string]*pgxpool.Pool{}
)

func adminPool(ctx context.Context, admin string) (*pgxpool.Pool, error) {
	adminPoolsMu.Lock()
	defer adminPoolsMu.Unlock()
	if p, ok := adminPools[admin]; ok {
		return p, nil
	}
	cfg, err := pgxpool.ParseConfig(admin)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 2
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	adminPools[admin] = p
	return p, nil
}

// SharedLockHolders returns the backends on conn's database that hold an
// advisory lock shared (package postgres holds one lock so: a node's hold
// on the token partitioning), by pid.
func SharedLockHolders(t testing.TB, conn *pgx.Conn) []int32 {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock'
		AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY pid`)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// Terminate ends backend pid, as an operator's pg_terminate_backend, a
// restart or a network cut would end a connection, and waits (up to 5 s)
// until it has ended.
func Terminate(t testing.TB, conn *pgx.Conn, pid int32) {
	t.Helper()
	var ended bool
	if err := conn.QueryRow(context.Background(), `SELECT pg_terminate_backend($1, 5000)`, pid).Scan(&ended); err != nil || !ended {
		t.Fatalf("terminate backend %d: %v, %v", pid, ended, err)
	}
}
