package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func TestAuditEventsNewestFirstAndBounded(t *testing.T) {
	d := fixture.DB(t)
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	long := strings.Repeat("x", 5000)
	for i, ev := range []string{portal.AuditLoginFailed, portal.AuditKeysGenerated, portal.AuditConsentRevoked} {
		err := d.RecordAudit(ctx, &portal.AuditEvent{At: at.Add(time.Duration(i) * time.Second), Event: ev,
			Username: long, Client: "ck", Remote: "127.0.0.1", Detail: "d"})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.AuditEvents(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Event != portal.AuditConsentRevoked || got[1].Event != portal.AuditKeysGenerated {
		t.Fatalf("events: %+v", got)
	}
	if len(got[0].Username) != 200 || !got[0].At.Equal(at.Add(2*time.Second)) || got[0].Remote != "127.0.0.1" {
		t.Errorf("event fields: %+v", got[0])
	}
	// Retention: events before the cut go, the rest stay.
	if n, err := d.DeleteAuditBefore(ctx, at.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("delete: %d, %v", n, err)
	}
	if got, _ := d.AuditEvents(ctx, 0); len(got) != 2 || got[1].Event != portal.AuditKeysGenerated {
		t.Errorf("after retention: %+v", got)
	}
}

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
