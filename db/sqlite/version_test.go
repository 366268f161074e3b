package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// TestGeneration: the access generation stays put while nothing is
// written, and changes with a change of another handle (another process)
// and of this one; through the -shm file and without it alike. Through the
// -shm file, an unchanged wal-index header answers without a query, and
// any commit, by any handle, makes the next call read the generation
// again; without it, every call reads it.
func TestGeneration(t *testing.T) {
	for _, tt := range []struct {
		name     string
		walIndex bool
	}{
		{"wal-index", true},
		{"no wal-index", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "apistore.db")
			d, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.shm == nil {
				t.Fatal("the -shm file was not opened")
			}
			if !tt.walIndex {
				releaseWALIndex(d.shm)
				d.shm = nil
			}
			other, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			version := func() uint64 {
				t.Helper()
				v, err := d.Generation(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			v1 := version()
			if _, err := d.PublishedAPIs(ctx); err != nil {
				t.Fatal(err)
			}
			if v2 := version(); v2 != v1 {
				t.Fatal("the version changed without a write")
			}
			if err := other.PutScope(ctx, "", oauth.Scope{Name: "read"}); err != nil {
				t.Fatal(err)
			}
			v3 := version()
			if v3 == v1 {
				t.Fatal("a change of another handle left the version as it was")
			}
			if err := other.PutScope(ctx, "", oauth.Scope{Name: "write"}); err != nil {
				t.Fatal(err)
			}
			if v4 := version(); v4 == v3 {
				t.Fatal("a second change of another handle left the version as it was")
			}
			v5 := version()
			if err := d.PutScope(ctx, "", oauth.Scope{Name: "read", Description: "changed"}); err != nil {
				t.Fatal(err)
			}
			v6 := version()
			if v6 == v5 {
				t.Fatal("a change of this handle left the version as it was")
			}

			// Which calls query: with the query's statement closed, a call
			// that reads the generation fails.
			genQ := d.genQ
			defer func() { d.genQ = genQ }()
			closed, err := d.watch.Prepare(`SELECT n FROM access_generation`)
			if err != nil {
				t.Fatal(err)
			}
			closed.Close()
			d.genQ = closed
			got, err := d.Generation(ctx)
			switch {
			case tt.walIndex && (err != nil || got != v6):
				t.Errorf("with the header unchanged: %d, %v; want %d without a query", got, err, v6)
			case !tt.walIndex && err == nil:
				t.Error("without a wal-index, the generation was not read")
			}
			if !tt.walIndex {
				return
			}
			// Any commit, even one that keeps the generation, changes the
			// header: the next call reads the generation again.
			if err := other.RecordUsage(ctx, []portal.Usage{{At: time.UnixMilli(1), AppID: 1, APIID: 1}}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Generation(ctx); err == nil {
				t.Error("after another handle's commit, the generation was not read again")
			}
		})
	}
}
