package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

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
