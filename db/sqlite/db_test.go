package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apistore.db")
	d, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	u := fixture.User(t, d, "alice", "alice-password")
	if err := d.Close(); err != nil {
		t.Fatal(err)
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
	// WAL is left checkpointed and truncated by Close.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("WAL has %d bytes after Close", fi.Size())
	}
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

func TestDeleteStaleTokens(t *testing.T) {
	d, key := fixture.Docs(t)
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	srv := oauth.NewServer(d, oauth.Validity{AppToken: time.Hour, UserToken: time.Hour, RefreshToken: 2 * time.Hour},
		func() time.Time { return clock })
	issue := func(grant string) *oauth.TokenResponse {
		r, err := srv.Token(ctx, &oauth.TokenRequest{GrantType: grant, ClientID: key.ConsumerKey, ClientSecret: key.Secret,
			Username: "alice", Password: "alice-password"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	app := issue("client_credentials") // expires at +1h, no refresh
	user := issue("password")          // access +1h, refresh +2h
	revoked := issue("client_credentials")
	info, err := srv.Validate(ctx, revoked.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RevokeFamily(ctx, info.FamilyID); err != nil {
		t.Fatal(err)
	}

	// Now only the revoked one goes.
	if n, err := d.DeleteStaleTokens(ctx, now); err != nil || n != 1 {
		t.Fatalf("at issue time: deleted %d, %v; want 1", n, err)
	}
	// After 90 minutes the application token has expired; the user token's
	// refresh token still lives, so its row stays.
	if n, _ := d.DeleteStaleTokens(ctx, now.Add(90*time.Minute)); n != 1 {
		t.Fatalf("after 90 min: deleted %d, want 1", n)
	}
	clock = now.Add(90 * time.Minute)
	if _, err := srv.Token(ctx, &oauth.TokenRequest{GrantType: "refresh_token", ClientID: key.ConsumerKey, ClientSecret: key.Secret,
		RefreshToken: user.RefreshToken}); err != nil {
		t.Fatalf("refresh after cleanup: %v", err)
	}
	if _, err := d.AccessToken(ctx, oauth.HashOf(app.AccessToken)); err == nil {
		t.Error("expired application token still stored")
	}

	// Refresh tokens that never expire: a used one is kept 90 days, for
	// replays, then removed; the chain's live one stays.
	forever := oauth.NewServer(d, oauth.Validity{AppToken: time.Hour, UserToken: time.Hour, RefreshToken: -1},
		func() time.Time { return clock })
	first, oerr := forever.Token(ctx, &oauth.TokenRequest{GrantType: "password", ClientID: key.ConsumerKey,
		ClientSecret: key.Secret, Username: "alice", Password: "alice-password"})
	if oerr != nil {
		t.Fatal(oerr)
	}
	second, oerr := forever.Token(ctx, &oauth.TokenRequest{GrantType: "refresh_token", ClientID: key.ConsumerKey,
		ClientSecret: key.Secret, RefreshToken: first.RefreshToken})
	if oerr != nil {
		t.Fatal(oerr)
	}
	used, live := oauth.HashOf(first.RefreshToken), oauth.HashOf(second.RefreshToken)
	stored := func(h oauth.Hash) bool {
		_, err := d.RefreshTokenInfo(ctx, h)
		return err == nil
	}
	d.DeleteStaleTokens(ctx, clock.Add(89*24*time.Hour))
	if !stored(used) || !stored(live) {
		t.Fatal("a used refresh token that never expires went before 90 days")
	}
	d.DeleteStaleTokens(ctx, clock.Add(91*24*time.Hour))
	if stored(used) || !stored(live) {
		t.Errorf("after 90 days: used refresh token stored %v (want false), live one %v (want true)", stored(used), stored(live))
	}
}

// TestNewerSchemaRefused: a database a newer apistore has migrated is not
// opened, and is left as it was.
func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apistore.db")
	d, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9000, '9000_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	d, err = sqlite.Open(path)
	if err == nil {
		d.Close()
		t.Fatal("a database of a newer schema was opened")
	}
	if !errors.Is(err, sqlite.ErrNewerSchema) || !strings.Contains(err.Error(), "9000_future.sql") {
		t.Errorf("error %q does not say the database is newer, naming its migration", err)
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
	if err := d.PutScope(context.Background(), oauth.Scope{Name: "read"}); err != nil {
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
