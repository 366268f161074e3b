package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// TestGroupCommitOnFullDisk fills the database (max_page_count stands for a
// full disk) with concurrent token inserts: every caller told its token was
// stored finds it after a restart, every other caller's error says why (the
// disk is full), not what the rollback tripped over afterwards.
func TestGroupCommitOnFullDisk(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "apistore.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	u := &portal.User{User: oauth.User{Username: "alice", PasswordHash: "x"}}
	if err := d.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var keyID int64
	app := &portal.Application{OwnerID: u.ID, Name: "App", Tier: "Unlimited"}
	if err := d.CreateApplicationWithKeys(ctx, app, func(kt oauth.KeyType) *oauth.Client {
		return &oauth.Client{ConsumerKey: oauth.NewConsumerKey(), KeyType: kt, GrantTypes: oauth.DefaultGrantTypes}
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.w.QueryRow(`SELECT id FROM consumer_keys WHERE app_id = ? LIMIT 1`, app.ID).Scan(&keyID); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := d.w.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := d.w.Exec(`PRAGMA max_page_count = ` + strconv.Itoa(pages+15)); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	tokens := make([]*oauth.Token, n)
	errs := make([]error, n)
	now := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		h := oauth.HashOf(oauth.NewSecret())
		tokens[i] = &oauth.Token{AccessHash: h, RefreshHash: oauth.HashOf(oauth.NewSecret()), FamilyID: h, KeyID: keyID,
			UserID: u.ID, Scopes: []string{"default"}, GrantType: oauth.GrantPassword, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = d.CreateToken(ctx, tokens[i]) }()
	}
	wg.Wait()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if d, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	failed := 0
	for i, e := range errs {
		_, err := d.AccessToken(ctx, tokens[i].AccessHash)
		switch {
		case e == nil && err != nil:
			t.Errorf("token %d was confirmed but is not stored: %v", i, err)
		case e != nil && err == nil:
			t.Errorf("token %d failed (%v) but is stored", i, e)
		case e != nil && !strings.Contains(e.Error(), "full"):
			t.Errorf("token %d: error %q does not say the disk is full", i, e)
		}
		if e != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("the database never filled up")
	}
}
