package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apistore/apistore/oauth"
)

// TestGeneration: the access generation stays put while nothing is
// written, and changes with a change of another handle (another process,
// for SQLite) and of this one; through the -shm file and without it alike.
func TestGeneration(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		name := map[bool]string{false: "wal-index", true: "no wal-index"}[fallback]
		t.Run(name, func(t *testing.T) {
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
			if fallback {
				d.shm.Close()
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
			if err := other.PutScope(ctx, oauth.Scope{Name: "read"}); err != nil {
				t.Fatal(err)
			}
			v3 := version()
			if v3 == v1 {
				t.Fatal("a change of another handle left the version as it was")
			}
			if err := other.PutScope(ctx, oauth.Scope{Name: "write"}); err != nil {
				t.Fatal(err)
			}
			if v4 := version(); v4 == v3 {
				t.Fatal("a second change of another handle left the version as it was")
			}
			v5 := version()
			if err := d.PutScope(ctx, oauth.Scope{Name: "read", Description: "changed"}); err != nil {
				t.Fatal(err)
			}
			if version() == v5 {
				t.Fatal("a change of this handle left the version as it was")
			}
		})
	}
}
