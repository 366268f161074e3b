package sqlite_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// TestGroupCommitIsolatesFailures sends many concurrent token inserts, one of
// them a duplicate, through the group-commit writer: the duplicate alone
// fails, and every other token is stored.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	d, key := fixture.Docs(t)
	ctx := context.Background()
	newToken := func() *oauth.Token {
		h := oauth.HashOf(oauth.NewSecret())
		return &oauth.Token{AccessHash: h, FamilyID: h, KeyID: key.KeyID, UserID: 1, Scopes: []string{"default"},
			GrantType: "client_credentials", IssuedAt: time.Now()}
	}
	dup := newToken()
	if err := d.CreateToken(ctx, dup); err != nil {
		t.Fatal(err)
	}
	const n = 300
	tokens := make([]*oauth.Token, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		tokens[i] = newToken()
		if i == n/2 {
			tokens[i] = dup
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = d.CreateToken(ctx, tokens[i]) }()
	}
	wg.Wait()
	for i, err := range errs {
		if i == n/2 {
			if err == nil {
				t.Error("the duplicate token was accepted")
			}
			continue
		}
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if _, err := d.AccessToken(ctx, tokens[i].AccessHash); err != nil {
			t.Fatalf("token %d not stored: %v", i, err)
		}
	}
}

// TestCacheSeesOtherHandles: a token and a client read through one handle
// are read again, not served from its cache, once another handle (as
// another process would) revokes the token and replaces the secret.
func TestCacheSeesOtherHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apistore.db")
	a, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	alice := fixture.User(t, a, "alice", "alice-password")
	key, _ := fixture.App(t, a, alice, "App")
	ctx := context.Background()
	h := oauth.HashOf(oauth.NewSecret())
	if err := a.CreateToken(ctx, &oauth.Token{AccessHash: h, FamilyID: h, KeyID: key.KeyID, UserID: alice.ID,
		Scopes: []string{"default"}, GrantType: "client_credentials", IssuedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second reads come from the cache
		if info, err := a.AccessToken(ctx, h); err != nil || info.Revoked {
			t.Fatalf("before: %+v, %v", info, err)
		}
		if c, err := a.ClientByKey(ctx, key.ConsumerKey); err != nil || c.SecretHash != key.SecretHash {
			t.Fatalf("before: %+v, %v", c, err)
		}
	}
	b, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	newSecret := oauth.HashOf("new")
	if err := b.ReplaceSecret(ctx, key.KeyID, newSecret); err != nil {
		t.Fatal(err)
	}
	if info, err := a.AccessToken(ctx, h); err != nil || !info.Revoked {
		t.Errorf("after another handle revoked it: %+v, %v", info, err)
	}
	if c, err := a.ClientByKey(ctx, key.ConsumerKey); err != nil || c.SecretHash != newSecret {
		t.Errorf("after another handle replaced the secret: %+v, %v", c, err)
	}
}
