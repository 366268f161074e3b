package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// TestWritesDuringCloseGetErrClosed: during a slow shutdown, requests still
// in flight keep writing through the group-commit writer while Close runs.
// Each write is either committed (and found after a restart) or refused
// with ErrClosed, never lost nor a panic; once Close has begun, every write
// of the writer is refused with ErrClosed.
func TestWritesDuringCloseGetErrClosed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "apistore.db")
	d, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	u := &portal.User{User: oauth.User{Username: "alice", PasswordHash: "x"}}
	if err := d.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	key, _ := fixture.App(t, d, u, "App")

	const writers = 16
	var (
		mu        sync.Mutex
		confirmed []oauth.Hash
		wg        sync.WaitGroup
	)
	refused := make([]error, writers)
	writing := make(chan struct{}, writers) // one per writer with a token in
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				h := oauth.HashOf(oauth.NewSecret())
				err := d.CreateToken(ctx, &oauth.Token{AccessHash: h, FamilyID: h, KeyID: key.KeyID, UserID: u.ID,
					Scopes: []string{"default"}, GrantType: oauth.GrantClientCredentials, IssuedAt: time.Now()})
				if err != nil {
					refused[i] = err
					return
				}
				mu.Lock()
				confirmed = append(confirmed, h)
				mu.Unlock()
				if n == 0 {
					writing <- struct{}{}
				}
			}
		}()
	}
	for range writers {
		<-writing
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	for i, err := range refused {
		if !errors.Is(err, sqlite.ErrClosed) {
			t.Errorf("writer %d stopped with %v, want ErrClosed", i, err)
		}
	}
	// Every write of the group-commit writer refuses once closed.
	for name, write := range map[string]func() error{
		"CreateToken": func() error {
			h := oauth.HashOf(oauth.NewSecret())
			return d.CreateToken(ctx, &oauth.Token{AccessHash: h, FamilyID: h, KeyID: key.KeyID, UserID: u.ID, IssuedAt: time.Now()})
		},
		"RecordAudit": func() error { return d.RecordAudit(ctx, &portal.AuditEvent{At: time.Now(), Event: portal.AuditLogin}) },
		"TakeQuota":   func() error { _, err := d.TakeQuota(ctx, portal.QuotaKey{AppID: 1}, time.Now(), 1, 1); return err },
		"ReserveLogin": func() error {
			_, _, err := d.ReserveLogin(ctx, []string{"u:alice"}, time.Now(), time.Now().Add(time.Minute),
				func([]portal.LoginCount) bool { return true })
			return err
		},
		"SettleLogin": func() error { _, err := d.SettleLogin(ctx, 0, []string{"u:alice"}, time.Now(), time.Now()); return err },
	} {
		if err := write(); !errors.Is(err, sqlite.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}

	d, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(confirmed) < writers {
		t.Fatalf("only %d tokens confirmed", len(confirmed))
	}
	for _, h := range confirmed {
		if _, err := d.AccessToken(ctx, h); err != nil {
			t.Fatalf("a token confirmed before Close is not stored: %v", err)
		}
	}
}
