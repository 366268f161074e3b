package dbtest

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func testDPoP(t *testing.T, s *suite) {
	t.Run("a code bound to a key reads back with its thumbprint", func(t *testing.T) { testCodeBinding(t, s) })

	t.Run("a bound token reads back with its thumbprint, a bearer token without", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		bound, bearer := token(key, alice, oauth.GrantPassword), token(key, alice, oauth.GrantPassword)
		bound.JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
		save(t, d, bound, bearer)
		for _, tok := range []*oauth.Token{bound, bearer} {
			info, err := d.AccessToken(ctx, tok.AccessHash)
			if err != nil || info.JKT != tok.JKT {
				t.Errorf("AccessToken: jkt %q, %v; want %q", info.JKT, err, tok.JKT)
			}
			info, err = d.RefreshTokenInfo(ctx, tok.RefreshHash)
			if err != nil || info.JKT != tok.JKT {
				t.Errorf("RefreshTokenInfo: jkt %q, %v; want %q", info.JKT, err, tok.JKT)
			}
			r, err := d.RefreshToken(ctx, tok.RefreshHash)
			if err != nil || r.JKT != tok.JKT {
				t.Errorf("RefreshToken: jkt %q, %v; want %q", r.JKT, err, tok.JKT)
			}
		}
		next := successor(bound)
		next.JKT = "another"
		if err := d.RotateRefresh(ctx, bound.RefreshHash, next); err != nil {
			t.Fatal(err)
		}
		if info, err := d.AccessToken(ctx, next.AccessHash); err != nil || info.JKT != "another" {
			t.Errorf("rotated token: jkt %q, %v", info.JKT, err)
		}
	})

	t.Run("a proof is accepted once, through any handle, by one of concurrent callers", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		ctx := t.Context()
		first, err := d.UseProof(ctx, oauth.HashOf("a"), t0.Add(time.Minute))
		if err != nil || !first {
			t.Fatalf("first use: %v, %v; want true", first, err)
		}
		if again, err := other.UseProof(ctx, oauth.HashOf("a"), t0.Add(time.Minute)); err != nil || again {
			t.Errorf("replay through the other handle: %v, %v; want false", again, err)
		}
		if again, err := d.UseProof(ctx, oauth.HashOf("a"), t0.Add(time.Minute)); err != nil || again {
			t.Errorf("replay through the same handle: %v, %v; want false", again, err)
		}
		var wins atomic.Int32
		together(16, func(i int) {
			h := d
			if i%2 == 1 {
				h = other
			}
			ok, err := h.UseProof(ctx, oauth.HashOf("b"), t0.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
		if wins.Load() != 1 {
			t.Errorf("%d of 16 concurrent uses of one proof accepted; want 1", wins.Load())
		}
	})

	t.Run("stale proofs are deleted, the others kept", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		for _, p := range []struct {
			name string
			exp  time.Time
		}{{"old", t0}, {"older", t0.Add(-time.Hour)}, {"live", t0.Add(time.Minute)}} {
			if ok, err := d.UseProof(ctx, oauth.HashOf(p.name), p.exp); err != nil || !ok {
				t.Fatalf("UseProof %s: %v, %v", p.name, ok, err)
			}
		}
		n, err := d.DeleteStaleProofs(ctx, t0)
		if err != nil || n != 2 {
			t.Errorf("DeleteStaleProofs: %d, %v; want 2", n, err)
		}
		if ok, err := d.UseProof(ctx, oauth.HashOf("live"), t0.Add(time.Minute)); err != nil || ok {
			t.Errorf("the live proof was deleted: %v, %v", ok, err)
		}
		if ok, err := d.UseProof(ctx, oauth.HashOf("old"), t0.Add(time.Minute)); err != nil || !ok {
			t.Errorf("the stale proof was kept: %v, %v", ok, err)
		}
	})

	t.Run("an application requires DPoP as created or set by its owner", func(t *testing.T) {
		d, ctx := s.store(t), t.Context()
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		key, _ := fixture.App(t, d, alice, "App")
		required := func() bool {
			t.Helper()
			c, err := d.ClientByKey(ctx, key.ConsumerKey)
			if err != nil {
				t.Fatal(err)
			}
			a, err := d.OwnedApplication(ctx, alice.ID, key.AppID)
			if err != nil {
				t.Fatal(err)
			}
			if c.DPoPRequired != a.DPoPRequired {
				t.Errorf("ClientByKey says %v, OwnedApplication %v", c.DPoPRequired, a.DPoPRequired)
			}
			return c.DPoPRequired
		}
		if required() {
			t.Error("a new application requires DPoP")
		}
		if err := d.SetApplicationDPoP(ctx, alice.ID, key.AppID, true); err != nil || !required() {
			t.Errorf("after SetApplicationDPoP true: %v, required %v", err, required())
		}
		if err := d.SetApplicationDPoP(ctx, bob.ID, key.AppID, false); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("another owner's SetApplicationDPoP: %v; want ErrNotFound", err)
		}
		if !required() {
			t.Error("another owner turned DPoP off")
		}
		app := &portal.Application{OwnerID: bob.ID, Name: "Strict", Tier: "Unlimited", DPoPRequired: true}
		if err := d.CreateApplication(ctx, app); err != nil {
			t.Fatal(err)
		}
		if a, err := d.OwnedApplication(ctx, bob.ID, app.ID); err != nil || !a.DPoPRequired {
			t.Errorf("created requiring DPoP: %+v, %v", a, err)
		}
	})
}

// testCodeBinding: a code bound to a DPoP key (dpop_jkt) reads back so, one
// not bound without a thumbprint.
func testCodeBinding(t *testing.T, s *suite) {
	d := s.store(t)
	alice := user(t, d, "alice")
	key, _ := fixture.App(t, d, alice, "App")
	for _, jkt := range []string{"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", ""} {
		c := &oauth.Code{Hash: oauth.HashOf("code " + jkt), KeyID: key.KeyID, UserID: alice.ID, Scopes: []string{"read"},
			IssuedAt: t0, ExpiresAt: t0.Add(time.Minute), DPoPJKT: jkt}
		if err := d.CreateCode(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		got, err := d.CodeByHash(t.Context(), c.Hash)
		if err != nil || got.DPoPJKT != jkt {
			t.Errorf("CodeByHash: dpop_jkt %q, %v; want %q", got.DPoPJKT, err, jkt)
		}
	}
}
