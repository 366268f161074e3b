package pgtest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/internal/pgtest"
)

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", dbURL, err)
	}
	return conn
}

// texts runs a query of one text column and returns its rows.
func texts(t *testing.T, conn *pgx.Conn, query string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNewDatabase makes two databases in a subtest, uses them, leaves a
// connection open to one, and checks that both are gone once the subtest's
// cleanup has run.
func TestNewDatabase(t *testing.T) {
	if pgtest.AdminURL() == "" {
		t.Skip("APISTORE_TEST_POSTGRES not set: run under scripts/postgres.sh run")
	}
	ctx := context.Background()
	var names []string
	var leftOpen *pgx.Conn

	t.Run("create", func(t *testing.T) {
		urls := []string{pgtest.NewDatabase(t), pgtest.NewDatabase(t)}
		if urls[0] == urls[1] {
			t.Fatalf("two databases share a URL: %s", urls[0])
		}
		for i, u := range urls {
			parsed, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			if got := parsed.Query().Get("sslmode"); got != "disable" {
				t.Errorf("%s: sslmode = %q, want disable", u, got)
			}
			conn := connect(t, u)
			var name string
			if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
				t.Fatal(err)
			}
			if "/"+name != parsed.Path || !strings.HasPrefix(name, "apistore_test_") {
				t.Errorf("URL %s connects to database %q", u, name)
			}
			names = append(names, name)

			var relations int
			err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`).Scan(&relations)
			if err != nil {
				t.Fatal(err)
			}
			if relations != 0 {
				t.Errorf("database %s is not empty: %d relations", name, relations)
			}

			// Each writes its own row; a shared database would show both.
			if _, err := conn.Exec(ctx, "CREATE TABLE note (body text NOT NULL)"); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "INSERT INTO note VALUES ($1)", name); err != nil {
				t.Fatal(err)
			}
			bodies := texts(t, conn, "SELECT body FROM note")
			if len(bodies) != 1 || bodies[0] != name {
				t.Errorf("database %s holds %q, want only its own row", name, bodies)
			}

			if i == 0 {
				leftOpen = conn // cleanup must end it to drop the database
			} else {
				conn.Close(ctx)
			}
		}
	})
	if len(names) != 2 || leftOpen == nil {
		t.Fatal("the subtest did not make two databases")
	}
	defer leftOpen.Close(ctx)

	admin := connect(t, pgtest.AdminURL())
	defer admin.Close(ctx)
	var left int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = ANY($1)", names).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d of %q still exist after cleanup", left, names)
	}
	if err := leftOpen.Ping(ctx); err == nil {
		t.Error("the connection left open survived its database")
	}
}

// TestNewMigratedDatabase makes two databases of one schema: the template
// is migrated at most once (another process on the server may have made it
// already), both copies hold what migrate made, each its own rows, and no
// template on the server is half made or open to connections.
func TestNewMigratedDatabase(t *testing.T) {
	if pgtest.AdminURL() == "" {
		t.Skip("APISTORE_TEST_POSTGRES not set: run under scripts/postgres.sh run")
	}
	ctx := context.Background()
	var migrated []string
	migrate := func(ctx context.Context, dbURL string) error {
		migrated = append(migrated, dbURL)
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE note (body text NOT NULL); INSERT INTO note VALUES ('migrated')")
		return err
	}
	const schema = "pgtest TestNewMigratedDatabase v1"
	first := pgtest.NewMigratedDatabase(t, schema, migrate)
	if len(migrated) > 1 {
		t.Fatalf("migrate ran %d times for one database", len(migrated))
	}
	second := pgtest.NewMigratedDatabase(t, schema, migrate)
	if len(migrated) > 1 {
		t.Fatalf("migrate ran again for a second database of the schema: %q", migrated)
	}
	if first == second {
		t.Fatalf("two databases share a URL: %s", first)
	}
	for _, u := range []string{first, second} {
		conn := connect(t, u)
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "INSERT INTO note VALUES ($1)", u); err != nil {
			t.Fatal(err)
		}
		bodies := texts(t, conn, "SELECT body FROM note ORDER BY body DESC")
		if len(bodies) != 2 || bodies[0] != u || bodies[1] != "migrated" {
			t.Errorf("database %s holds %q, want its own row and the migrated one", u, bodies)
		}
	}
	admin := connect(t, pgtest.AdminURL())
	defer admin.Close(ctx)
	open := texts(t, admin, `SELECT datname FROM pg_database
		WHERE datname LIKE 'apistore\_test\_template\_%' AND (datallowconn OR NOT datistemplate OR datname LIKE '%\_building')`)
	if len(open) > 0 {
		t.Errorf("templates open to connections or half made: %q", open)
	}
}
