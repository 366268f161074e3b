package dbtest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func testTokens(t *testing.T, s *suite) {
	t.Run("a token reads back with its key, application and user", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		_, sandbox := fixture.App(t, d, alice, "App")
		tok := token(sandbox, bob, oauth.GrantPassword)
		save(t, d, tok)
		check := func(how string, info *oauth.TokenInfo, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			if !sameToken(&info.Token, tok) || info.ConsumerKey != sandbox.ConsumerKey || info.KeyType != oauth.Sandbox ||
				info.AppID != sandbox.AppID || info.AppName != "App" || info.Username != "bob@carbon.super" || info.Tenant != portal.SuperTenant {
				t.Errorf("%s:\n got %+v\nwant %+v", how, info, tok)
			}
		}
		info, err := d.AccessToken(ctx, tok.AccessHash)
		check("AccessToken", info, err)
		info, err = d.RefreshTokenInfo(ctx, tok.RefreshHash)
		check("RefreshTokenInfo", info, err)
		r, err := d.RefreshToken(ctx, tok.RefreshHash)
		if err != nil || !sameToken(r, tok) {
			t.Errorf("RefreshToken:\n got %+v, %v\nwant %+v", r, err, tok)
		}
	})

	t.Run("a token without refresh token or expiry reads back so", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		a, b := token(key, alice, oauth.GrantClientCredentials), token(key, alice, oauth.GrantClientCredentials)
		a.ExpiresAt = time.Time{}
		save(t, d, a, b) // two tokens without a refresh token
		info, err := d.AccessToken(ctx, a.AccessHash)
		if err != nil || !sameToken(&info.Token, a) || info.HasRefresh() || !info.ExpiresAt.IsZero() || !info.RefreshExpiresAt.IsZero() {
			t.Errorf("token without refresh token or expiry: %+v, %v", info, err)
		}
		r, err := d.RefreshToken(ctx, oauth.Hash{})
		mustNotFound(t, "RefreshToken of the zero hash", r, err)
		ri, err := d.RefreshTokenInfo(ctx, oauth.Hash{})
		mustNotFound(t, "RefreshTokenInfo of the zero hash", ri, err)
	})

	t.Run("an access hash is stored once", func(t *testing.T) {
		d := s.store(t)
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		tok := token(key, alice, oauth.GrantPassword)
		save(t, d, tok)
		again := token(key, alice, oauth.GrantPassword)
		again.AccessHash = tok.AccessHash
		if err := d.CreateToken(t.Context(), again); err == nil {
			t.Error("a second token with the same access hash was stored")
		}
		if info, err := d.AccessToken(t.Context(), tok.AccessHash); err != nil || info.RefreshHash != tok.RefreshHash {
			t.Errorf("the first token: %+v, %v", info, err)
		}
	})

	t.Run("of many concurrent creates, a duplicate fails alone", func(t *testing.T) {
		d := s.store(t)
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		dup := token(key, alice, oauth.GrantClientCredentials)
		save(t, d, dup)
		tokens := make([]*oauth.Token, 200)
		errs := make([]error, len(tokens))
		for i := range tokens {
			tokens[i] = token(key, alice, oauth.GrantPassword)
		}
		tokens[len(tokens)/2] = dup
		together(len(tokens), func(i int) { errs[i] = d.CreateToken(t.Context(), tokens[i]) })
		for i, err := range errs {
			if tokens[i] == dup {
				if err == nil {
					t.Error("the duplicate token was accepted")
				}
				continue
			}
			if err != nil {
				t.Fatalf("token %d: %v", i, err)
			}
			if _, err := d.AccessToken(t.Context(), tokens[i].AccessHash); err != nil {
				t.Fatalf("token %d not stored: %v", i, err)
			}
		}
	})

	t.Run("CreateTokens stores all or none", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		batch := []*oauth.Token{token(key, alice, oauth.GrantPassword), token(key, alice, oauth.GrantClientCredentials)}
		if err := d.CreateTokens(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for _, tok := range batch {
			if info, err := d.AccessToken(ctx, tok.AccessHash); err != nil || !sameToken(&info.Token, tok) {
				t.Errorf("bulk-loaded token: %+v, %v", info, err)
			}
		}
		bad := []*oauth.Token{token(key, alice, oauth.GrantPassword), token(key, alice, oauth.GrantPassword)}
		bad[1].AccessHash = batch[0].AccessHash
		if err := d.CreateTokens(ctx, bad); err == nil {
			t.Fatal("a batch repeating a stored token was stored")
		}
		info, err := d.AccessToken(ctx, bad[0].AccessHash)
		mustNotFound(t, "the refused batch's first token", info, err)
		stale := token(key, alice, oauth.GrantPassword)
		stale.SecretHash = oauth.HashOf("not the secret")
		if err := d.CreateTokens(ctx, []*oauth.Token{stale}); !errors.Is(err, oauth.ErrSecretReplaced) {
			t.Errorf("CreateTokens with a replaced secret: %v, want ErrSecretReplaced", err)
		}
	})

	t.Run("RotateRefresh spends the refresh token and stores its successor", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		first := token(key, alice, oauth.GrantPassword)
		save(t, d, first)
		second := successor(first)
		if err := d.RotateRefresh(ctx, first.RefreshHash, second); err != nil {
			t.Fatal(err)
		}
		if r, err := d.RefreshToken(ctx, first.RefreshHash); err != nil || !r.RefreshUsed || r.Revoked {
			t.Errorf("the spent refresh token: %+v, %v", r, err)
		}
		if info, err := d.AccessToken(ctx, first.AccessHash); err != nil || info.Revoked {
			t.Errorf("the spent token's access token: %+v, %v; rotation does not revoke it", info, err)
		}
		if info, err := d.AccessToken(ctx, second.AccessHash); err != nil || !sameToken(&info.Token, second) {
			t.Errorf("the successor: %+v, %v", info, err)
		}
		third := successor(first)
		if err := d.RotateRefresh(ctx, first.RefreshHash, third); !errors.Is(err, oauth.ErrRefreshUsed) {
			t.Errorf("rotating the spent refresh token again: %v, want ErrRefreshUsed", err)
		}
		info, err := d.AccessToken(ctx, third.AccessHash)
		mustNotFound(t, "the refused successor", info, err)
	})

	for _, tt := range []struct {
		name string
		// spoil makes the rotation of tok into next fail with want.
		spoil func(t *testing.T, d db.Store, tok, next *oauth.Token)
		want  error
	}{
		{"a revoked refresh token is refused", func(t *testing.T, d db.Store, tok, next *oauth.Token) {
			if err := d.RevokeToken(t.Context(), tok.AccessHash); err != nil {
				t.Fatal(err)
			}
		}, oauth.ErrRefreshUsed},
		{"an unknown refresh token is refused", func(t *testing.T, d db.Store, tok, next *oauth.Token) {
			tok.RefreshHash = oauth.HashOf("unknown")
		}, oauth.ErrRefreshUsed},
		{"a successor after a secret change is refused, the refresh token unspent", func(t *testing.T, d db.Store, tok, next *oauth.Token) {
			next.SecretHash = oauth.HashOf("a secret the key no longer has")
		}, oauth.ErrSecretReplaced},
		{"a successor that cannot be stored leaves the refresh token unspent", func(t *testing.T, d db.Store, tok, next *oauth.Token) {
			next.AccessHash = tok.AccessHash
		}, nil},
	} {
		t.Run("RotateRefresh: "+tt.name, func(t *testing.T) {
			d := s.store(t)
			ctx := t.Context()
			alice := user(t, d, "alice")
			key, _ := fixture.App(t, d, alice, "App")
			tok := token(key, alice, oauth.GrantPassword)
			save(t, d, tok)
			next := successor(tok)
			spent := tok.RefreshHash
			tt.spoil(t, d, tok, next)
			err := d.RotateRefresh(ctx, tok.RefreshHash, next)
			if tt.want != nil && !errors.Is(err, tt.want) || err == nil {
				t.Fatalf("RotateRefresh: %v, want %v", err, tt.want)
			}
			if next.AccessHash != tok.AccessHash {
				info, err := d.AccessToken(ctx, next.AccessHash)
				mustNotFound(t, "the refused successor", info, err)
			}
			if tt.want == oauth.ErrRefreshUsed {
				return
			}
			if r, err := d.RefreshToken(ctx, spent); err != nil || r.RefreshUsed {
				t.Errorf("the refresh token after the failed rotation: %+v, %v; want it unspent", r, err)
			}
			if err := d.RotateRefresh(ctx, spent, successor(tok)); err != nil {
				t.Errorf("rotating it properly afterwards: %v", err)
			}
		})
	}

	t.Run("of concurrent rotations on two nodes exactly one wins", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		tok := token(key, alice, oauth.GrantPassword)
		save(t, d, tok)
		nexts := make([]*oauth.Token, 16)
		errs := make([]error, len(nexts))
		for i := range nexts {
			nexts[i] = successor(tok)
		}
		handles := []db.Store{d, other}
		together(len(nexts), func(i int) { errs[i] = handles[i%2].RotateRefresh(t.Context(), tok.RefreshHash, nexts[i]) })
		won := 0
		for i, err := range errs {
			_, lookup := d.AccessToken(t.Context(), nexts[i].AccessHash)
			switch {
			case err == nil:
				won++
				if lookup != nil {
					t.Errorf("rotation %d won but its token is not stored: %v", i, lookup)
				}
			case errors.Is(err, oauth.ErrRefreshUsed):
				if lookup == nil {
					t.Errorf("rotation %d lost but its token is stored", i)
				}
			default:
				t.Errorf("rotation %d: %v", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d rotations of one refresh token won, want exactly 1", won)
		}
	})

	t.Run("RevokeToken ends one token and its refresh token", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		first := token(key, alice, oauth.GrantPassword)
		save(t, d, first)
		second := successor(first)
		if err := d.RotateRefresh(ctx, first.RefreshHash, second); err != nil {
			t.Fatal(err)
		}
		other := token(key, alice, oauth.GrantPassword)
		save(t, d, other)
		if err := d.RevokeToken(ctx, second.AccessHash); err != nil {
			t.Fatal(err)
		}
		if !revoked(t, d, second.AccessHash) || revoked(t, d, first.AccessHash) || revoked(t, d, other.AccessHash) {
			t.Error("RevokeToken revoked another token than the one named, or not it")
		}
		if r, err := d.RefreshTokenInfo(ctx, second.RefreshHash); err != nil || !r.Revoked {
			t.Errorf("its refresh token: %+v, %v", r, err)
		}
		if err := d.RotateRefresh(ctx, second.RefreshHash, successor(second)); !errors.Is(err, oauth.ErrRefreshUsed) {
			t.Errorf("rotating the revoked refresh token: %v, want ErrRefreshUsed", err)
		}
		if err := d.RevokeToken(ctx, oauth.HashOf("unknown")); err != nil {
			t.Errorf("revoking an unknown token: %v", err)
		}
	})

	t.Run("RevokeFamily ends a refresh chain and nothing else", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		first := token(key, alice, oauth.GrantPassword)
		save(t, d, first)
		chain := []*oauth.Token{first}
		for range 2 {
			next := successor(chain[len(chain)-1])
			if err := d.RotateRefresh(ctx, chain[len(chain)-1].RefreshHash, next); err != nil {
				t.Fatal(err)
			}
			chain = append(chain, next)
		}
		other := token(key, alice, oauth.GrantPassword)
		save(t, d, other)
		if err := d.RevokeFamily(ctx, first.AccessHash); err != nil {
			t.Fatal(err)
		}
		for i, tok := range chain {
			if !revoked(t, d, tok.AccessHash) {
				t.Errorf("token %d of the chain is not revoked", i)
			}
		}
		if revoked(t, d, other.AccessHash) {
			t.Error("a token of another chain was revoked")
		}
		if err := d.RevokeFamily(ctx, oauth.HashOf("unknown")); err != nil {
			t.Errorf("revoking an unknown family: %v", err)
		}
	})

	t.Run("DeleteStaleTokens keeps what can still be used or replayed", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		now := t0.Add(48 * time.Hour)
		never := time.Time{}
		day := 24 * time.Hour
		cases := []struct {
			name                    string
			expires, refreshExpires time.Time
			refresh, used, revoke   bool
			issued                  time.Time
			deleted                 bool
		}{
			{"revoked, still valid", now.Add(time.Hour), never, false, false, true, t0, true},
			{"access expired, no refresh token", now.Add(-time.Minute), never, false, false, false, t0, true},
			{"access expired at this very moment", now, never, false, false, false, t0, true},
			{"access valid", now.Add(time.Minute), never, false, false, false, t0, false},
			{"access never expires", never, never, false, false, false, t0, false},
			{"access expired, refresh valid", now.Add(-time.Minute), now.Add(time.Hour), true, false, false, t0, false},
			{"access and refresh expired", now.Add(-time.Minute), now.Add(-time.Minute), true, false, false, t0, true},
			{"access expired, refresh used but valid: kept to see a replay", now.Add(-time.Minute), now.Add(time.Hour), true, true, false, t0, false},
			{"access expired, refresh never expires", now.Add(-time.Minute), never, true, false, false, now.Add(-100 * day), false},
			{"access expired, refresh never expires, used 89 days ago", now.Add(-time.Minute), never, true, true, false, now.Add(-89 * day), false},
			{"access expired, refresh never expires, used 91 days ago", now.Add(-time.Minute), never, true, true, false, now.Add(-91 * day), true},
		}
		tokens := make([]*oauth.Token, len(cases))
		for i, c := range cases {
			tok := token(key, alice, oauth.GrantPassword)
			tok.IssuedAt, tok.ExpiresAt, tok.RefreshExpiresAt = c.issued, c.expires, c.refreshExpires
			if !c.refresh {
				tok.RefreshHash = oauth.Hash{}
			}
			save(t, d, tok)
			if c.used {
				next := successor(tok)
				next.FamilyID = oauth.HashOf(oauth.NewSecret()) // a chain of its own, kept
				next.ExpiresAt = never
				if err := d.RotateRefresh(ctx, tok.RefreshHash, next); err != nil {
					t.Fatal(err)
				}
			}
			if c.revoke {
				if err := d.RevokeToken(ctx, tok.AccessHash); err != nil {
					t.Fatal(err)
				}
			}
			tokens[i] = tok
		}
		want := 0
		for _, c := range cases {
			if c.deleted {
				want++
			}
		}
		n, err := d.DeleteStaleTokens(ctx, now)
		if err != nil || n != int64(want) {
			t.Errorf("DeleteStaleTokens: %d, %v; want %d", n, err, want)
		}
		for i, c := range cases {
			_, err := d.AccessToken(ctx, tokens[i].AccessHash)
			if gone := errors.Is(err, oauth.ErrNotFound); gone != c.deleted {
				t.Errorf("%s: deleted %v (%v), want %v", c.name, gone, err, c.deleted)
			}
		}
		if n, err := d.DeleteStaleTokens(ctx, now); err != nil || n != 0 {
			t.Errorf("DeleteStaleTokens again: %d, %v; want 0", n, err)
		}
	})
}

// sameToken compares the stored fields of two tokens (SecretHash is not
// stored); times are compared as instants.
func sameToken(got, want *oauth.Token) bool {
	return got.AccessHash == want.AccessHash && got.RefreshHash == want.RefreshHash && got.FamilyID == want.FamilyID &&
		got.KeyID == want.KeyID && got.UserID == want.UserID && slices.Equal(got.Scopes, want.Scopes) &&
		got.GrantType == want.GrantType && got.IssuedAt.Equal(want.IssuedAt) && got.ExpiresAt.Equal(want.ExpiresAt) &&
		got.RefreshExpiresAt.Equal(want.RefreshExpiresAt) && got.Revoked == want.Revoked && got.RefreshUsed == want.RefreshUsed &&
		got.JKT == want.JKT
}
