package postgres_test

import (
	"context"
	"testing"

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
	dbtest.BenchmarkSearch(b, func(b *testing.B) db.Store {
		s, err := db.Open(context.Background(), pgtest.NewDatabase(b), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
