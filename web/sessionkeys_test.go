package web

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadSessionKeys(t *testing.T) {
	dir := t.TempDir()
	h1, b1, err := LoadSessionKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(h1) != 64 || len(b1) != 32 {
		t.Fatalf("key sizes %d, %d", len(h1), len(b1))
	}
	info, err := os.Stat(filepath.Join(dir, "session-keys"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("keys file: %v, mode %v", err, info.Mode())
	}
	h2, b2, err := LoadSessionKeys(dir)
	if err != nil || !bytes.Equal(h1, h2) || !bytes.Equal(b1, b2) {
		t.Fatal("the keys changed on a second start")
	}
	if err := os.WriteFile(filepath.Join(dir, "session-keys"), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadSessionKeys(dir); err == nil {
		t.Fatal("a truncated keys file was accepted")
	}
}
