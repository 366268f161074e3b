package dbtest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

func testCodes(t *testing.T, s *suite) {
	t.Run("a code reads back unused, bound to its request", func(t *testing.T) {
		d := s.store(t)
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		c := code(t, d, key, alice)
		got, err := d.CodeByHash(t.Context(), c.Hash)
		if err != nil || got.Hash != c.Hash || got.KeyID != c.KeyID || got.UserID != c.UserID || got.RedirectURI != c.RedirectURI ||
			!slices.Equal(got.Scopes, c.Scopes) || got.Challenge != c.Challenge || got.ChallengeMethod != c.ChallengeMethod ||
			!got.IssuedAt.Equal(c.IssuedAt) || !got.ExpiresAt.Equal(c.ExpiresAt) || got.Used || !got.FamilyID.IsZero() {
			t.Errorf("CodeByHash:\n got %+v, %v\nwant %+v", got, err, c)
		}
		plain := &oauth.Code{Hash: oauth.HashOf("plain"), KeyID: key.KeyID, UserID: alice.ID, Scopes: []string{"read"}, IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		if err := d.CreateCode(t.Context(), plain); err != nil {
			t.Fatal(err)
		}
		if got, err := d.CodeByHash(t.Context(), plain.Hash); err != nil || got.RedirectURI != "" || got.Challenge != "" || got.ChallengeMethod != "" {
			t.Errorf("a code without redirect URI or PKCE: %+v, %v", got, err)
		}
		if err := d.CreateCode(t.Context(), c); err == nil {
			t.Error("a code hash was stored twice")
		}
	})

	t.Run("RedeemCode spends the code once and records the tokens' family", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		c := code(t, d, key, alice)
		tok := codeToken(key, c)
		if err := d.RedeemCode(ctx, c.Hash, tok); err != nil {
			t.Fatal(err)
		}
		if got, err := d.CodeByHash(ctx, c.Hash); err != nil || !got.Used || got.FamilyID != tok.FamilyID {
			t.Errorf("the redeemed code: %+v, %v; want used, family %v", got, err, tok.FamilyID)
		}
		if info, err := d.AccessToken(ctx, tok.AccessHash); err != nil || !sameToken(&info.Token, tok) {
			t.Errorf("the token: %+v, %v", info, err)
		}
		again := codeToken(key, c)
		if err := d.RedeemCode(ctx, c.Hash, again); !errors.Is(err, oauth.ErrCodeUsed) {
			t.Errorf("redeeming it again: %v, want ErrCodeUsed", err)
		}
		info, err := d.AccessToken(ctx, again.AccessHash)
		mustNotFound(t, "the second redemption's token", info, err)
		if got, _ := d.CodeByHash(ctx, c.Hash); got == nil || got.FamilyID != tok.FamilyID {
			t.Errorf("the second redemption changed the code's family: %+v", got)
		}
		unknown := codeToken(key, c)
		if err := d.RedeemCode(ctx, oauth.HashOf("unknown"), unknown); !errors.Is(err, oauth.ErrCodeUsed) {
			t.Errorf("redeeming an unknown code: %v, want ErrCodeUsed", err)
		}
	})

	t.Run("RedeemCode after a secret change leaves the code unused", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		c := code(t, d, key, alice)
		if err := d.ReplaceSecret(ctx, key.KeyID, oauth.HashOf("new")); err != nil {
			t.Fatal(err)
		}
		tok := codeToken(key, c)
		tok.SecretHash = key.SecretHash
		if err := d.RedeemCode(ctx, c.Hash, tok); !errors.Is(err, oauth.ErrSecretReplaced) {
			t.Fatalf("RedeemCode with the old secret: %v, want ErrSecretReplaced", err)
		}
		if got, err := d.CodeByHash(ctx, c.Hash); err != nil || got.Used || !got.FamilyID.IsZero() {
			t.Errorf("the code: %+v, %v; want it unused", got, err)
		}
		info, err := d.AccessToken(ctx, tok.AccessHash)
		mustNotFound(t, "the refused token", info, err)
		tok.SecretHash = oauth.HashOf("new")
		if err := d.RedeemCode(ctx, c.Hash, tok); err != nil {
			t.Errorf("redeeming with the new secret: %v", err)
		}
	})

	t.Run("of concurrent redemptions on two nodes exactly one wins", func(t *testing.T) {
		d, again := s.open(t)
		handles := []db.Store{d, again(t)}
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		c := code(t, d, key, alice)
		tokens := make([]*oauth.Token, 16)
		errs := make([]error, len(tokens))
		for i := range tokens {
			tokens[i] = codeToken(key, c)
		}
		together(len(tokens), func(i int) { errs[i] = handles[i%2].RedeemCode(t.Context(), c.Hash, tokens[i]) })
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Errorf("redemptions %d and %d both won", won, i)
			case err == nil:
				won = i
			case !errors.Is(err, oauth.ErrCodeUsed):
				t.Errorf("redemption %d: %v", i, err)
			}
		}
		if won < 0 {
			t.Fatal("no redemption won")
		}
		got, err := d.CodeByHash(t.Context(), c.Hash)
		if err != nil || got.FamilyID != tokens[won].FamilyID {
			t.Errorf("the code's family: %+v, %v; want the winner's", got, err)
		}
		for i, tok := range tokens {
			if _, err := d.AccessToken(t.Context(), tok.AccessHash); (err == nil) != (i == won) {
				t.Errorf("redemption %d (won %v): token lookup %v", i, i == won, err)
			}
		}
	})

	t.Run("DeleteStaleCodes keeps what is valid or can still revoke its tokens", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		now := t0.Add(time.Hour)
		type state int
		const (
			unused state = iota
			tokensLive
			successorLive // the first token is gone, its successor lives
			tokensGone
		)
		cases := []struct {
			name    string
			expires time.Time
			state   state
			deleted bool
		}{
			{"unused, still valid", now.Add(time.Minute), unused, false},
			{"unused, expired", now.Add(-time.Minute), unused, true},
			{"unused, expiring at this very moment", now, unused, true},
			{"used, expired, its token stored", now.Add(-time.Minute), tokensLive, false},
			{"used, expired, a later token of its chain stored", now.Add(-time.Minute), successorLive, false},
			{"used, expired, its tokens gone", now.Add(-time.Minute), tokensGone, true},
		}
		codes := make([]*oauth.Code, len(cases))
		for i, c := range cases {
			cd := &oauth.Code{Hash: oauth.HashOf(oauth.NewSecret()), KeyID: key.KeyID, UserID: alice.ID, Scopes: []string{"read"},
				IssuedAt: t0, ExpiresAt: c.expires}
			if err := d.CreateCode(ctx, cd); err != nil {
				t.Fatal(err)
			}
			codes[i] = cd
			if c.state == unused {
				continue
			}
			tok := codeToken(key, cd)
			if err := d.RedeemCode(ctx, cd.Hash, tok); err != nil {
				t.Fatal(err)
			}
			switch c.state {
			case successorLive:
				next := successor(tok)
				next.ExpiresAt = now.Add(time.Hour)
				if err := d.RotateRefresh(ctx, tok.RefreshHash, next); err != nil {
					t.Fatal(err)
				}
				fallthrough // the first token expires and is cleaned up
			case tokensGone:
				if err := d.RevokeToken(ctx, tok.AccessHash); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := d.DeleteStaleTokens(ctx, now); err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, c := range cases {
			if c.deleted {
				want++
			}
		}
		if n, err := d.DeleteStaleCodes(ctx, now); err != nil || n != int64(want) {
			t.Errorf("DeleteStaleCodes: %d, %v; want %d", n, err, want)
		}
		for i, c := range cases {
			_, err := d.CodeByHash(ctx, codes[i].Hash)
			if gone := errors.Is(err, oauth.ErrNotFound); gone != c.deleted {
				t.Errorf("%s: deleted %v (%v), want %v", c.name, gone, err, c.deleted)
			}
		}
		if n, err := d.DeleteStaleCodes(ctx, now); err != nil || n != 0 {
			t.Errorf("DeleteStaleCodes again: %d, %v; want 0", n, err)
		}
	})
}
