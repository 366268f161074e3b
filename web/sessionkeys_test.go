package web

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
)

// TestSessionKeys: the keys are made once and kept in the store, so every
// node (here, two handles on one database with data directories of their
// own) reads the same; a data directory's session-keys file from before
// they moved into the store is taken over, so its sessions survive.
func TestSessionKeys(t *testing.T) {
	ctx := context.Background()
	d := fixture.DB(t)
	h1, b1, err := SessionKeys(ctx, d, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(h1) != hashKeyLen || len(b1) != blockKeyLen {
		t.Fatalf("key sizes %d, %d", len(h1), len(b1))
	}
	h2, b2, err := SessionKeys(ctx, fixture.OpenAgain(t, d), t.TempDir())
	if err != nil || !bytes.Equal(h1, h2) || !bytes.Equal(b1, b2) {
		t.Fatalf("another node got other keys (%v)", err)
	}

	legacy := bytes.Repeat([]byte{7}, hashKeyLen+blockKeyLen)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, legacySessionKeysFile), legacy, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := fixture.DB(t)
	h3, b3, err := SessionKeys(ctx, fresh, dir)
	if err != nil || !bytes.Equal(append(h3, b3...), legacy) {
		t.Fatalf("the old keys file was not taken over (%v)", err)
	}
	if h4, _, err := SessionKeys(ctx, fresh, t.TempDir()); err != nil || !bytes.Equal(h4, h3) {
		t.Fatalf("the keys changed on a second start (%v)", err)
	}
}
