package sqlite_test

import (
	"context"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/db/dbtest"
)

// BenchmarkSearchAPIs times the store's API search over 10,000 APIs
// (BENCHMARKS.md): go test -run '^$' -bench SearchAPIs ./db/sqlite
func BenchmarkSearchAPIs(b *testing.B) {
	dbtest.BenchmarkSearch(b, func(b *testing.B) db.Store {
		s, err := db.Open(context.Background(), "", b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}, nil)
}
