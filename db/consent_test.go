package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// TestRevokeConsent checks that withdrawing an approval ends, in one write,
// the user's tokens and unused codes for the application, and nothing else.
func TestRevokeConsent(t *testing.T) {
	ctx := context.Background()
	d := fixture.DB(t)
	alice := fixture.User(t, d, "alice", "alice-password")
	bob := fixture.User(t, d, "bob", "bob-password")
	key, sandbox := fixture.App(t, d, alice, "App")
	otherKey, _ := fixture.App(t, d, alice, "Other")
	now := time.Now()
	token := func(k fixture.Key, u *db.User, grant string) oauth.Hash {
		tok := &oauth.Token{AccessHash: oauth.HashOf(oauth.NewSecret()), KeyID: k.KeyID, UserID: u.ID,
			Scopes: []string{"default"}, GrantType: grant, IssuedAt: now}
		tok.FamilyID = tok.AccessHash
		if err := d.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		return tok.AccessHash
	}
	ended := []oauth.Hash{token(key, alice, oauth.GrantAuthorizationCode), token(sandbox, alice, oauth.GrantPassword)}
	kept := []oauth.Hash{token(key, bob, oauth.GrantAuthorizationCode), token(otherKey, alice, oauth.GrantAuthorizationCode),
		token(key, alice, oauth.GrantClientCredentials)}
	code := &oauth.Code{Hash: oauth.HashOf("code"), KeyID: key.KeyID, UserID: alice.ID, IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := d.CreateCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*db.User{alice, bob} {
		if err := d.SaveConsent(ctx, &db.Consent{UserID: u.ID, AppID: key.AppID, Scopes: []string{"read"}, Remember: true, ApprovedAt: now}); err != nil {
			t.Fatal(err)
		}
	}

	gen := d.AccessGeneration()
	if err := d.RevokeConsent(ctx, alice.ID, key.AppID); err != nil {
		t.Fatal(err)
	}
	if d.AccessGeneration() == gen {
		t.Error("revoking consent did not bump the access generation")
	}
	revoked := func(h oauth.Hash) bool {
		info, err := d.AccessToken(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		return info.Revoked
	}
	for _, h := range ended {
		if !revoked(h) {
			t.Error("a token of the withdrawn approval is still valid")
		}
	}
	for _, h := range kept {
		if revoked(h) {
			t.Error("a token of another user, application or of client_credentials was revoked")
		}
	}
	if _, err := d.CodeByHash(ctx, code.Hash); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unused code kept: %v", err)
	}
	if _, err := d.RememberedScopes(ctx, alice.ID, key.AppID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("remembered consent kept: %v", err)
	}
	if list, err := d.Consents(ctx, bob.ID); err != nil || len(list) != 1 || list[0].AppName != "App" || list[0].Owner != "alice" {
		t.Errorf("bob's consent: %+v, %v", list, err)
	}
	if err := d.RevokeConsent(ctx, alice.ID, key.AppID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("revoking again: %v", err)
	}
}
