package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/db/dbtest"
	"github.com/apistore/apistore/db/sqlite"
)

// TestConformance runs the stores' conformance suite on SQLite: each test
// gets a database file of its own, and a second handle opens the same file
// as another process would. The files are copies of one migrated at the
// start (migrating each would be most of the suite's time).
func TestConformance(t *testing.T) {
	template := filepath.Join(t.TempDir(), "template.db")
	d, err := sqlite.Open(template)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil { // checkpoints: the file holds everything
		t.Fatal(err)
	}
	empty, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Run(t, func(t *testing.T) (db.Store, func(t *testing.T) db.Store) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, db.DatabaseFile), empty, 0o600); err != nil {
			t.Fatal(err)
		}
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
