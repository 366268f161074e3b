package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// TestReopenKeepsDataAndMigratesOnce: Close leaves everything in the
// database file, its WAL checkpointed and emptied even while another
// process has the database open (SQLite does it by itself only at the last
// connection's close), and opening the file again finds the data and
// applies no migration a second time.
func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apistore.db")
	d, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	u := fixture.User(t, d, "alice", "alice-password")
	otherProcess, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer otherProcess.Close()
	if err := otherProcess.Ping(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("WAL has %d bytes after Close", fi.Size())
	}
	applied := appliedMigrations(t, path)
	if len(applied) == 0 {
		t.Fatal("no migration recorded")
	}
	d, err = sqlite.Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer d.Close()
	got, err := d.UserByID(context.Background(), u.ID)
	if err != nil || got.Username != "alice" {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
	if again := appliedMigrations(t, path); !slices.Equal(again, applied) {
		t.Errorf("reopening changed the recorded migrations:\n%q\nthen\n%q", applied, again)
	}
}

// appliedMigrations lists the migrations recorded in the database at path,
// with the time each was applied.
func appliedMigrations(t *testing.T, path string) []string {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT version || ' ' || name || ' ' || applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSecretsAndTokensAreStoredHashed(t *testing.T) {
	dir := t.TempDir()
	d, err := sqlite.Open(filepath.Join(dir, "apistore.db"))
	if err != nil {
		t.Fatal(err)
	}
	alice := fixture.User(t, d, "alice", "alice-password")
	key, _ := fixture.App(t, d, alice, "App")
	srv := oauth.NewServer(d, oauth.Validity{}, nil)
	resp, oerr := srv.Token(context.Background(), &oauth.TokenRequest{GrantType: "password", ClientID: key.ConsumerKey,
		ClientSecret: key.Secret, Username: "alice", Password: "alice-password"})
	if oerr != nil {
		t.Fatal(oerr)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	var all []byte
	files, _ := filepath.Glob(filepath.Join(dir, "apistore.db*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all = append(all, b...)
	}
	for name, secret := range map[string]string{"consumer secret": key.Secret, "access token": resp.AccessToken,
		"refresh token": resp.RefreshToken, "password": "alice-password"} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("the %s is stored in clear", name)
		}
	}
	if !bytes.Contains(all, []byte(key.ConsumerKey)) {
		t.Error("the consumer key itself is not found: the test reads the wrong files")
	}
}

// TestFilesAreOwnerOnly: the database and its WAL files are readable by
// their owner only, also when an older apistore made the file readable by
// everyone.
func TestFilesAreOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "apistore.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.PutScope(context.Background(), "", oauth.Scope{Name: "read"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"apistore.db", "apistore.db-wal", "apistore.db-shm"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, perm)
		}
	}
}
