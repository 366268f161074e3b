package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/db/dbtest"
	"github.com/apistore/apistore/internal/pgtest"
)

// BenchmarkSearchAPIs times the store's API search over 10,000 APIs
// (BENCHMARKS.md): scripts/postgres.sh run go test -run '^$' -bench
// SearchAPIs ./db/postgres
func BenchmarkSearchAPIs(b *testing.B) {
	if pgtest.AdminURL() == "" {
		b.Skip("APISTORE_TEST_POSTGRES is not set: run under scripts/postgres.sh run")
	}
	url := pgtest.NewDatabase(b)
	dbtest.BenchmarkSearch(b, func(b *testing.B) db.Store {
		s, err := db.Open(context.Background(), url, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}, func(b *testing.B) {
		// What autovacuum does within a minute of such a load.
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `ANALYZE`); err != nil {
			b.Fatal(err)
		}
	})
}
