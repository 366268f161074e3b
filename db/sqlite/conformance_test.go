package sqlite_test

import (
	"context"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/db/dbtest"
	"github.com/apistore/apistore/internal/fixture"
)

// TestConformance runs the stores' conformance suite on SQLite: each test
// gets a database file of its own, and a second handle opens the same file
// as another process would. The files are copies of one migrated once
// (fixture.SQLiteDir: migrating each would be most of the suite's time).
func TestConformance(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) (db.Store, func(t *testing.T) db.Store) {
		dir := fixture.SQLiteDir(t)
		open := func(t *testing.T) db.Store {
			t.Helper()
			s, err := db.Open(context.Background(), "", dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(t), open
	}, dbtest.BugRunAloneInProcess, dbtest.BugASCIICaseFold, dbtest.BugUsagePruneStopsAtNewerRow, dbtest.BugCounterKeyNotUTF8)
}
