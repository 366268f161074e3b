package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// TestVersionKeepsThroughNewTokens: the caches' Version survives the commits
// that change nothing a cache holds (tokens issued, refresh tokens spent,
// sessions, usage), made here or by another handle (another process, for
// SQLite), and changes with every change that can end or grant access, made
// by either.
func TestVersionKeepsThroughNewTokens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "apistore.db")
	d, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	other, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	alice := fixture.User(t, d, "alice", "alice-password")
	key, _ := fixture.App(t, d, alice, "App")
	api := &portal.API{Name: "Pizza", Version: "v1", Context: "/pizza", ProductionURL: "http://127.0.0.1:1",
		Resources: []portal.Resource{{Method: "GET", Path: "/*"}}}
	if err := d.CreateAPI(ctx, api); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	newToken := func(h *sqlite.DB) (access, refresh oauth.Hash) {
		t.Helper()
		tok := &oauth.Token{AccessHash: oauth.HashOf(oauth.NewSecret()), RefreshHash: oauth.HashOf(oauth.NewSecret()),
			KeyID: key.KeyID, UserID: alice.ID, Scopes: []string{"default"}, GrantType: oauth.GrantPassword,
			IssuedAt: now, ExpiresAt: now.Add(time.Hour), RefreshExpiresAt: now.Add(24 * time.Hour)}
		tok.FamilyID = tok.AccessHash
		if err := h.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		return tok.AccessHash, tok.RefreshHash
	}
	version := func() uint64 {
		t.Helper()
		v, err := d.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	access, _ := newToken(d)
	_, refresh := newToken(other)

	kept := []struct {
		name   string
		change func() error
	}{
		{"a token issued here", func() error { newToken(d); return nil }},
		{"a token issued by another handle", func() error { newToken(other); return nil }},
		{"a refresh token spent by another handle", func() error {
			next := &oauth.Token{AccessHash: oauth.HashOf(oauth.NewSecret()), FamilyID: refresh, KeyID: key.KeyID, UserID: alice.ID,
				Scopes: []string{"default"}, GrantType: oauth.GrantRefreshToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
			return other.RotateRefresh(ctx, refresh, next)
		}},
		{"usage recorded", func() error {
			return other.RecordUsage(ctx, []portal.Usage{{At: now, AppID: key.AppID, APIID: api.ID, Status: 200}})
		}},
	}
	for _, tt := range kept {
		before := version()
		if err := tt.change(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if version() != before {
			t.Errorf("%s changed the version: caches would be dropped for nothing", tt.name)
		}
	}

	changed := []struct {
		name   string
		change func() error
	}{
		{"a token revoked by another handle", func() error { return other.RevokeFamily(ctx, access) }},
		{"a subscription made by another handle", func() error { return other.Subscribe(ctx, key.AppID, api.ID, "Gold") }},
		{"an API retired by another handle", func() error { return other.SetAPIStatus(ctx, api.ID, portal.APIRetired) }},
		{"expired tokens pruned by another handle", func() error {
			_, err := other.DeleteStaleTokens(ctx, now.Add(48*time.Hour))
			return err
		}},
		{"a secret replaced by another handle", func() error { return other.ReplaceSecret(ctx, key.KeyID, oauth.HashOf("new")) }},
		{"a scope changed by another handle", func() error { return other.PutScope(ctx, oauth.Scope{Name: "read", Roles: []string{"admin"}}) }},
		{"a user deleted by another handle", func() error { return other.DeleteUser(ctx, "alice") }},
	}
	for _, tt := range changed {
		before := version()
		if err := tt.change(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if version() == before {
			t.Errorf("%s left the version as it was: caches would serve what it ended", tt.name)
		}
	}
}
