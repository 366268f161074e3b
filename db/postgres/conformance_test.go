package postgres_test

import (
	"context"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/db/dbtest"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/internal/pgtest"
)

// TestConformance runs the stores' conformance suite on PostgreSQL: each
// test gets a fresh, migrated database on the server scripts/postgres.sh
// starts (fixture.PostgresDatabase), and a second handle is a second pool
// on it, as another node would open.
func TestConformance(t *testing.T) {
	if pgtest.AdminURL() == "" {
		t.Skip("APISTORE_TEST_POSTGRES is not set: run under scripts/postgres.sh run go test ./db/postgres")
	}
	dbtest.Run(t, func(t *testing.T) (db.Store, func(t *testing.T) db.Store) {
		url := fixture.PostgresDatabase(t)
		open := func(t *testing.T) db.Store {
			t.Helper()
			s, err := db.Open(context.Background(), url, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(t), open
	}, dbtest.BugASCIICaseFold, dbtest.BugUsagePruneStopsAtNewerRow)
}
