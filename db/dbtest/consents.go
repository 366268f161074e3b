package dbtest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func testConsents(t *testing.T, s *suite) {
	// The listed scopes are all those granted since the first approval
	// (tokens of an earlier, wider approval may still be alive), while only
	// an approval the user asked to remember changes what the consent page
	// may skip.
	t.Run("granted scopes accumulate; remembered ones are the latest remembered approval's", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
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
			approved := t0.Add(time.Duration(i) * time.Minute)
			c := &portal.Consent{UserID: alice.ID, AppID: key.AppID, Scopes: st.scopes, Remember: st.remember, ApprovedAt: approved}
			if err := d.SaveConsent(ctx, c); err != nil {
				t.Fatal(err)
			}
			list, err := d.Consents(ctx, alice.ID)
			if err != nil || len(list) != 1 {
				t.Fatalf("step %d: %+v, %v", i, list, err)
			}
			if got := list[0]; !slices.Equal(got.Scopes, st.granted) || got.Remember != (st.remembered != nil) || !got.ApprovedAt.Equal(approved) {
				t.Errorf("step %d: listed %v remembered %v at %v, want %v %v at %v", i, got.Scopes, got.Remember, got.ApprovedAt,
					st.granted, st.remembered != nil, approved)
			}
			remembered, err := d.RememberedScopes(ctx, alice.ID, key.AppID)
			if st.remembered == nil && !errors.Is(err, portal.ErrNotFound) || st.remembered != nil && (err != nil || !slices.Equal(remembered, st.remembered)) {
				t.Errorf("step %d: remembered %v (%v), want %v", i, remembered, err, st.remembered)
			}
		}
	})

	t.Run("a user's consents are listed by application name in any case, with the owner", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice, bob, carol := user(t, d, "alice"), user(t, d, "bob"), user(t, d, "carol")
		beta, _ := fixture.App(t, d, alice, "Beta")
		alpha, _ := fixture.App(t, d, bob, "alpha")
		gamma, _ := fixture.App(t, d, alice, "gamma")
		for _, k := range []int64{beta.AppID, alpha.AppID, gamma.AppID} {
			if err := d.SaveConsent(ctx, &portal.Consent{UserID: carol.ID, AppID: k, Scopes: []string{"read"}, ApprovedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		list, err := d.Consents(ctx, carol.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := names(list, func(c portal.Consent) string { return c.AppName + " of " + c.Owner })
		if want := []string{"alpha of bob", "Beta of alice", "gamma of alice"}; !slices.Equal(got, want) {
			t.Errorf("carol's consents: %q, want %q", got, want)
		}
		for _, c := range list {
			if c.UserID != carol.ID || c.AppID == 0 || c.Remember || !slices.Equal(c.Scopes, []string{"read"}) {
				t.Errorf("consent %+v", c)
			}
		}
		if list, err := d.Consents(ctx, alice.ID); err != nil || len(list) != 0 {
			t.Errorf("consents of a user who gave none: %+v, %v", list, err)
		}
	})

	t.Run("RevokeConsent ends the user's tokens and unused codes for the application", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		key, sandbox := fixture.App(t, d, alice, "App")
		otherKey, _ := fixture.App(t, d, alice, "Other")
		ended := []*oauth.Token{token(key, alice, oauth.GrantAuthorizationCode), token(sandbox, alice, oauth.GrantPassword)}
		chain := token(key, alice, oauth.GrantAuthorizationCode)
		save(t, d, chain)
		refreshed := successor(chain)
		if err := d.RotateRefresh(ctx, chain.RefreshHash, refreshed); err != nil {
			t.Fatal(err)
		}
		ended = append(ended, chain, refreshed)
		kept := []*oauth.Token{token(key, bob, oauth.GrantAuthorizationCode), token(otherKey, alice, oauth.GrantAuthorizationCode),
			token(key, alice, oauth.GrantClientCredentials)}
		save(t, d, ended[0], ended[1])
		save(t, d, kept...)
		unused, otherUsers := code(t, d, key, alice), code(t, d, key, bob)
		for _, u := range []*portal.User{alice, bob} {
			if err := d.SaveConsent(ctx, &portal.Consent{UserID: u.ID, AppID: key.AppID, Scopes: []string{"read"}, Remember: true, ApprovedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.RevokeConsent(ctx, alice.ID, key.AppID); err != nil {
			t.Fatal(err)
		}
		for i, tok := range ended {
			if !revoked(t, d, tok.AccessHash) {
				t.Errorf("token %d of the withdrawn approval still gives access", i)
			}
		}
		for i, tok := range kept {
			if revoked(t, d, tok.AccessHash) {
				t.Errorf("kept token %d (another user's, another application's or client_credentials) was revoked", i)
			}
		}
		c, err := d.CodeByHash(ctx, unused.Hash)
		mustNotFound(t, "alice's unused code", c, err)
		if _, err := d.CodeByHash(ctx, otherUsers.Hash); err != nil {
			t.Errorf("bob's code: %v", err)
		}
		if scopes, err := d.RememberedScopes(ctx, alice.ID, key.AppID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("alice's remembered consent: %v, %v", scopes, err)
		}
		if list, err := d.Consents(ctx, alice.ID); err != nil || len(list) != 0 {
			t.Errorf("alice's consents: %+v, %v", list, err)
		}
		if list, err := d.Consents(ctx, bob.ID); err != nil || len(list) != 1 || list[0].AppName != "App" || list[0].Owner != "alice" {
			t.Errorf("bob's consent: %+v, %v", list, err)
		}
		if err := d.RevokeConsent(ctx, alice.ID, key.AppID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("revoking again: %v, want ErrNotFound", err)
		}
	})
}
