package dbtest

import (
	"context"
	"slices"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// The hot reads, ClientByKey and AccessToken, are cached (db.Open puts the
// cache in front of every store): these tests read through one handle,
// change through the other, as another node would, and read again.
func testCache(t *testing.T, s *suite) {
	newSecret := oauth.HashOf("new secret")
	for _, tt := range []struct {
		name   string
		change func(ctx context.Context, other db.Store, w *world) error
		check  func(t *testing.T, d db.Store, w *world)
	}{
		{"a revoked token is seen revoked",
			func(ctx context.Context, other db.Store, w *world) error {
				return other.RevokeToken(ctx, w.aliceToken.AccessHash)
			},
			func(t *testing.T, d db.Store, w *world) { wantEnded(t, d, "alice's token", w.aliceToken) }},
		{"a revoked chain is seen revoked",
			func(ctx context.Context, other db.Store, w *world) error {
				return other.RevokeFamily(ctx, w.bobToken.FamilyID)
			},
			func(t *testing.T, d db.Store, w *world) { wantEnded(t, d, "bob's token", w.bobToken) }},
		{"a replaced secret is seen, and the key's tokens revoked",
			func(ctx context.Context, other db.Store, w *world) error {
				return other.ReplaceSecret(ctx, w.key.KeyID, newSecret)
			},
			func(t *testing.T, d db.Store, w *world) {
				if c, err := d.ClientByKey(t.Context(), w.key.ConsumerKey); err != nil || c.SecretHash != newSecret {
					t.Errorf("the key: %+v, %v; want the new secret", c, err)
				}
				wantEnded(t, d, "alice's token", w.aliceToken)
				wantEnded(t, d, "the client_credentials token", w.appToken)
			}},
		{"revoked application tokens are seen revoked",
			func(ctx context.Context, other db.Store, w *world) error {
				return other.RevokeApplicationTokens(ctx, w.key.KeyID)
			},
			func(t *testing.T, d db.Store, w *world) { wantEnded(t, d, "the client_credentials token", w.appToken) }},
		{"narrowed grants are seen",
			func(ctx context.Context, other db.Store, w *world) error {
				return other.UpdateKeySettings(ctx, w.key.KeyID, []string{oauth.GrantClientCredentials}, "", 0)
			},
			func(t *testing.T, d db.Store, w *world) {
				if c, err := d.ClientByKey(t.Context(), w.key.ConsumerKey); err != nil || !slices.Equal(c.GrantTypes, []string{oauth.GrantClientCredentials}) {
					t.Errorf("the key: %+v, %v; want client_credentials only", c, err)
				}
			}},
		{"a withdrawn consent's tokens are seen revoked",
			func(ctx context.Context, other db.Store, w *world) error {
				return other.RevokeConsent(ctx, w.bob.ID, w.key.AppID)
			},
			func(t *testing.T, d db.Store, w *world) { wantEnded(t, d, "bob's token", w.bobToken) }},
		{"a deleted application's key and tokens are gone",
			func(ctx context.Context, other db.Store, w *world) error {
				return other.DeleteApplication(ctx, w.alice.ID, w.key.AppID)
			},
			func(t *testing.T, d db.Store, w *world) {
				c, err := d.ClientByKey(t.Context(), w.key.ConsumerKey)
				mustNotFound(t, "the key", c, err)
				wantEnded(t, d, "alice's token", w.aliceToken)
			}},
		{"a deleted user's keys and tokens are gone",
			func(ctx context.Context, other db.Store, w *world) error { return other.DeleteUser(ctx, "alice") },
			func(t *testing.T, d db.Store, w *world) {
				c, err := d.ClientByKey(t.Context(), w.key.ConsumerKey)
				mustNotFound(t, "the key", c, err)
				wantEnded(t, d, "bob's token on alice's application", w.bobToken)
			}},
		{"a renamed application is seen",
			func(ctx context.Context, other db.Store, w *world) error {
				return other.UpdateApplication(ctx, &portal.Application{ID: w.key.AppID, OwnerID: w.alice.ID, Name: "Renamed", Tier: "Gold"})
			},
			func(t *testing.T, d db.Store, w *world) {
				if c, err := d.ClientByKey(t.Context(), w.key.ConsumerKey); err != nil || c.AppName != "Renamed" {
					t.Errorf("the key: %+v, %v", c, err)
				}
				if info, err := d.AccessToken(t.Context(), w.aliceToken.AccessHash); err != nil || info.AppName != "Renamed" {
					t.Errorf("alice's token: %+v, %v", info, err)
				}
			}},
	} {
		t.Run(tt.name+" through the other node", func(t *testing.T) {
			d, again := s.open(t)
			other := again(t)
			w := build(t, d)
			ctx := t.Context()
			for range 2 { // the second reads come from the cache
				for _, tok := range []*oauth.Token{w.aliceToken, w.appToken, w.bobToken} {
					if info, err := d.AccessToken(ctx, tok.AccessHash); err != nil || info.Revoked {
						t.Fatalf("before: %+v, %v", info, err)
					}
				}
				if c, err := d.ClientByKey(ctx, w.key.ConsumerKey); err != nil || c.SecretHash != w.key.SecretHash {
					t.Fatalf("before: %+v, %v", c, err)
				}
			}
			if err := tt.change(ctx, other, w); err != nil {
				t.Fatal(err)
			}
			tt.check(t, d, w)
		})
	}

	t.Run("a key not found is looked up again", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		c, err := d.ClientByKey(ctx, "later")
		mustNotFound(t, "before", c, err)
		a := &portal.Application{OwnerID: alice.ID, Name: "App", Tier: "Gold"}
		if err := other.CreateApplication(ctx, a); err != nil {
			t.Fatal(err)
		}
		k := newKey(oauth.Production)
		k.AppID, k.ConsumerKey = a.ID, "later"
		if err := other.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		if c, err := d.ClientByKey(ctx, "later"); err != nil || c.KeyID != k.KeyID {
			t.Errorf("after the other node created it: %+v, %v", c, err)
		}
	})

	t.Run("callers get copies", func(t *testing.T) {
		d := s.store(t)
		w := build(t, d)
		ctx := t.Context()
		for i := range 3 { // a miss, then hits
			c, err := d.ClientByKey(ctx, w.key.ConsumerKey)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.GrantTypes, oauth.DefaultGrantTypes) || !slices.Equal(c.OwnerRoles, []string{"subscriber"}) {
				t.Errorf("read %d: grants %q, roles %q; an earlier caller's changes show", i, c.GrantTypes, c.OwnerRoles)
			}
			c.GrantTypes[0], c.OwnerRoles[0] = "mutated", "mutated"
			c.GrantTypes = append(c.GrantTypes, "more")

			info, err := d.AccessToken(ctx, w.aliceToken.AccessHash)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(info.Scopes, w.aliceToken.Scopes) {
				t.Errorf("read %d: scopes %q; an earlier caller's changes show", i, info.Scopes)
			}
			info.Scopes[0] = "mutated"
			info.Revoked = true
		}
		if info, err := d.AccessToken(ctx, w.aliceToken.AccessHash); err != nil || info.Revoked {
			t.Errorf("a caller's change of a field shows: %+v, %v", info, err)
		}
	})
}

// wantEnded fails t unless tok, read through d, is revoked or gone.
func wantEnded(t *testing.T, d db.Store, what string, tok *oauth.Token) {
	t.Helper()
	if !ended(t, d, tok.AccessHash) {
		t.Errorf("%s is served as valid: the cache kept it", what)
	}
}
