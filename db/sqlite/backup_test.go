package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// TestBackupIsAConsistentCopyWhileWriting: VACUUM INTO copies one snapshot
// while tokens keep being issued, into a new owner-only file that apistore
// opens; a missing directory or an existing file is refused.
func TestBackupIsAConsistentCopyWhileWriting(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "apistore.db")
	d, err := sqlite.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	alice := fixture.User(t, d, "alice", "alice-password")
	key, _ := fixture.App(t, d, alice, "App")
	srv := oauth.NewServer(d, oauth.Validity{}, nil)
	ctx := context.Background()
	issue := func() string {
		resp, oerr := srv.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantClientCredentials,
			ClientID: key.ConsumerKey, ClientSecret: key.Secret})
		if oerr != nil {
			t.Error(oerr)
			return ""
		}
		return resp.AccessToken
	}
	before := issue()
	// Tokens keep being issued while the copy is made.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			issue()
		}
	}()
	dst := filepath.Join(dir, "copy", "backup.db")
	if err := sqlite.Backup(ctx, src, dst); err == nil {
		t.Fatal("backup into a missing directory succeeded")
	}
	dst = filepath.Join(dir, "backup.db")
	err = sqlite.Backup(ctx, src, dst)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlite.Backup(ctx, src, dst); err == nil {
		t.Error("backup over an existing file succeeded")
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the copy, which holds password hashes, is not owner-only: %v, %v", fi.Mode(), err)
	}
	if result := fixture.IntegrityCheck(t, dst); result != "ok" {
		t.Errorf("the copy is not a consistent database: %s", result)
	}
	c, err := sqlite.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.AccessToken(ctx, oauth.HashOf(before)); err != nil {
		t.Errorf("token issued before the backup is missing from the copy: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Error(err)
	}
}
