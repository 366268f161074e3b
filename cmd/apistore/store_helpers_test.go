package main

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
)

// databases maps the data directories newDataDir made to their --database
// values, when the tests run on PostgreSQL.
var databases sync.Map

// newDataDir returns a fresh data directory for a test, with, when the
// tests run on PostgreSQL, a fresh database that the commands given this
// directory use (withDatabase).
func newDataDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if url := fixture.Database(t); url != "" {
		databases.Store(dir, url)
	}
	return dir
}

// withDatabase adds --database to a command line that names a data
// directory of newDataDir's on PostgreSQL.
func withDatabase(args []string) []string {
	for i, a := range args {
		if a == "--data-dir" && i+1 < len(args) {
			if url, ok := databases.Load(args[i+1]); ok {
				// Beside --data-dir, not at the end: a command's positional
				// argument may come last.
				return slices.Concat(args[:i+2], []string{"--database", url.(string)}, args[i+2:])
			}
		}
	}
	return args
}

// databaseOf is the --database value of a data directory of newDataDir's.
func databaseOf(dir string) string {
	if url, ok := databases.Load(dir); ok {
		return url.(string)
	}
	return ""
}

// openStore opens the store of a data directory of newDataDir's, closed at
// cleanup.
func openStore(t testing.TB, dir string) db.Store {
	t.Helper()
	d, err := db.Open(context.Background(), databaseOf(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// runIn runs an admin command of the binary on the data dir dir (and its
// database), stdin on its standard input, and returns what it printed.
func runIn(dir, stdin, command string, flags ...string) (string, error) {
	cmd := exec.Command(bin, withDatabase(append(append(strings.Fields(command), flags...), "--data-dir", dir))...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
