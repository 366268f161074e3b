package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
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
	token := func(k fixture.Key, u *portal.User, grant string) oauth.Hash {
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
	for _, u := range []*portal.User{alice, bob} {
		if err := d.SaveConsent(ctx, &portal.Consent{UserID: u.ID, AppID: key.AppID, Scopes: []string{"read"}, Remember: true, ApprovedAt: now}); err != nil {
			t.Fatal(err)
		}
	}

	gen := fixture.Generation(t, d)
	if err := d.RevokeConsent(ctx, alice.ID, key.AppID); err != nil {
		t.Fatal(err)
	}
	if fixture.Generation(t, d) == gen {
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
	if _, err := d.CodeByHash(ctx, code.Hash); !errors.Is(err, portal.ErrNotFound) {
		t.Errorf("unused code kept: %v", err)
	}
	if _, err := d.RememberedScopes(ctx, alice.ID, key.AppID); !errors.Is(err, portal.ErrNotFound) {
		t.Errorf("remembered consent kept: %v", err)
	}
	if list, err := d.Consents(ctx, bob.ID); err != nil || len(list) != 1 || list[0].AppName != "App" || list[0].Owner != "alice" {
		t.Errorf("bob's consent: %+v, %v", list, err)
	}
	if err := d.RevokeConsent(ctx, alice.ID, key.AppID); !errors.Is(err, portal.ErrNotFound) {
		t.Errorf("revoking again: %v", err)
	}
}

// TestConsentKeepsGrants: the listed scopes are all those granted since the
// first approval (tokens of an earlier, wider approval may still be alive),
// while only an approval the user asked to remember changes what the consent
// page may skip.
func TestConsentKeepsGrants(t *testing.T) {
	ctx := context.Background()
	d := fixture.DB(t)
	alice := fixture.User(t, d, "alice", "alice-password")
	key, _ := fixture.App(t, d, alice, "App")
	steps := []struct {
		scopes     []string
		remember   bool
		granted    []string
		remembered []string // nil: nothing remembered
	}{
		{[]string{"read", "update"}, false, []string{"read", "update"}, nil},
		{[]string{"read"}, true, []string{"read", "update"}, []string{"read"}},
		{[]string{"read", "update"}, false, []string{"read", "update"}, []string{"read"}},
		{[]string{"write", "read"}, true, []string{"read", "update", "write"}, []string{"write", "read"}},
		{[]string{"read"}, false, []string{"read", "update", "write"}, []string{"write", "read"}},
	}
	for i, st := range steps {
		c := &portal.Consent{UserID: alice.ID, AppID: key.AppID, Scopes: st.scopes, Remember: st.remember, ApprovedAt: time.Now()}
		if err := d.SaveConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
		list, err := d.Consents(ctx, alice.ID)
		if err != nil || len(list) != 1 {
			t.Fatalf("step %d: %+v, %v", i, list, err)
		}
		if !slices.Equal(list[0].Scopes, st.granted) || list[0].Remember != (st.remembered != nil) {
			t.Errorf("step %d: listed %v remembered %v, want %v %v", i, list[0].Scopes, list[0].Remember, st.granted, st.remembered != nil)
		}
		remembered, err := d.RememberedScopes(ctx, alice.ID, key.AppID)
		if st.remembered == nil && !errors.Is(err, portal.ErrNotFound) || st.remembered != nil && !slices.Equal(remembered, st.remembered) {
			t.Errorf("step %d: remembered %v (%v), want %v", i, remembered, err, st.remembered)
		}
	}
}

// TestConsentMigration: an approval remembered before migration 0022 is
// still remembered, with its scopes, after it.
func TestConsentMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "apistore.db")
	d, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	alice := fixture.User(t, d, "alice", "alice-password")
	key, _ := fixture.App(t, d, alice, "App")
	other, _ := fixture.App(t, d, alice, "Other")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Put the database back as it was before 0022, holding one remembered
	// and one plain approval.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`ALTER TABLE consents DROP COLUMN remembered_scopes`,
		`DELETE FROM schema_migrations WHERE version = 22`,
		fmt.Sprintf(`INSERT INTO consents (user_id, app_id, scopes, remember, approved_at) VALUES (%d, %d, 'read update', 1, 0), (%d, %d, 'read', 0, 0)`,
			alice.ID, key.AppID, alice.ID, other.AppID),
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	d, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, err := d.RememberedScopes(ctx, alice.ID, key.AppID); err != nil || !slices.Equal(got, []string{"read", "update"}) {
		t.Errorf("remembered approval after migrating: %v, %v", got, err)
	}
	if _, err := d.RememberedScopes(ctx, alice.ID, other.AppID); !errors.Is(err, portal.ErrNotFound) {
		t.Errorf("plain approval remembered after migrating: %v", err)
	}
}
