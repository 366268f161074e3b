// Package pgtest gives each test its own empty PostgreSQL database on the
// throw-away server that scripts/postgres.sh starts. It is imported only by
// tests.
//
// Run the tests under the script, which sets APISTORE_TEST_POSTGRES:
//
//	scripts/postgres.sh run go test ./...
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
	admin := AdminURL()
	if admin == "" {
		t.Fatal("pgtest: " + envAdminURL + " is not set: run the tests under scripts/postgres.sh run")
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s is not a postgres:// URL", envAdminURL)
	}

	// 64 random bits: test processes run in parallel against one server, and
	// a name that collides would fail CREATE DATABASE.
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgtest: database name: %v", err)
	}
	name := namePrefix + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()

	// template0 rather than the default template1: no one can connect to
	// template0 or change it, so it is always empty, and a session left on
	// template1 cannot make CREATE DATABASE fail ("source database is being
	// accessed by other users"). The default strategy, WAL_LOG, is kept: on PostgreSQL 15 here
	// it took 39 ms a database (median of 25, either template) and its drop
	// 7 ms; STRATEGY = FILE_COPY took 57 ms and 20 ms, and its checkpoints,
	// one before and one after each copy, slow every other test on the
	// server.
	err = withAdmin(admin, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0")
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

	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// withAdmin runs f on an admin connection of its own, closed when f returns:
// tests may hold every other connection the server allows, and a connection
// kept between tests would be one more to share.
func withAdmin(admin string, f func(context.Context, *pgx.Conn) error) error {
	// Not t.Context(): it is canceled before cleanup functions run.
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	return f(ctx, conn)
}
