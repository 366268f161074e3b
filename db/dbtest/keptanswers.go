package dbtest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// kept returns a kept answer for the refresh token hashing to used, kept
// until t0 plus d.
func kept(used oauth.Hash, d time.Duration) *oauth.KeptAnswer {
	return &oauth.KeptAnswer{Used: used, Sealed: []byte("sealed answer for " + used.String()), KeepUntil: t0.Add(d)}
}

// spendable saves a token of alice's with a refresh token, to rotate.
func spendable(t *testing.T, d db.Store) (fixture.Key, *portal.User, *oauth.Token) {
	t.Helper()
	alice := user(t, d, "alice")
	key, _ := fixture.App(t, d, alice, "App")
	tok := token(key, alice, oauth.GrantPassword)
	save(t, d, tok)
	return key, alice, tok
}

func testKeptAnswers(t *testing.T, s *suite) {
	t.Run("RotateRefreshKeeping rotates as RotateRefresh and keeps the answer", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		_, _, first := spendable(t, d)
		a, err := d.KeptAnswer(ctx, first.RefreshHash)
		mustNotFound(t, "KeptAnswer before the rotation", a, err)
		second := successor(first)
		want := kept(first.RefreshHash, 30*time.Second)
		if err := d.RotateRefreshKeeping(ctx, first.RefreshHash, second, want); err != nil {
			t.Fatal(err)
		}
		if r, err := d.RefreshToken(ctx, first.RefreshHash); err != nil || !r.RefreshUsed {
			t.Errorf("the spent refresh token: %+v, %v", r, err)
		}
		if info, err := d.AccessToken(ctx, second.AccessHash); err != nil || !sameToken(&info.Token, second) {
			t.Errorf("the successor: %+v, %v", info, err)
		}
		got, err := d.KeptAnswer(ctx, first.RefreshHash)
		if err != nil || got.Used != want.Used || !bytes.Equal(got.Sealed, want.Sealed) || !got.KeepUntil.Equal(want.KeepUntil) {
			t.Fatalf("KeptAnswer: %+v, %v; want %+v", got, err, want)
		}
		third := successor(first)
		if err := d.RotateRefreshKeeping(ctx, first.RefreshHash, third, kept(first.RefreshHash, time.Minute)); !errors.Is(err, oauth.ErrRefreshUsed) {
			t.Errorf("rotating the spent refresh token again: %v, want ErrRefreshUsed", err)
		}
		info, err := d.AccessToken(ctx, third.AccessHash)
		mustNotFound(t, "the refused successor", info, err)
		if got, err := d.KeptAnswer(ctx, first.RefreshHash); err != nil || !bytes.Equal(got.Sealed, want.Sealed) {
			t.Errorf("the first answer after a refused rotation: %+v, %v", got, err)
		}
	})

	t.Run("a rotation that fails keeps no answer", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		_, _, tok := spendable(t, d)
		next := successor(tok)
		next.SecretHash = oauth.HashOf("a secret the key no longer has")
		if err := d.RotateRefreshKeeping(ctx, tok.RefreshHash, next, kept(tok.RefreshHash, time.Minute)); !errors.Is(err, oauth.ErrSecretReplaced) {
			t.Fatalf("RotateRefreshKeeping after a secret change: %v", err)
		}
		a, err := d.KeptAnswer(ctx, tok.RefreshHash)
		mustNotFound(t, "KeptAnswer of a failed rotation", a, err)
		if r, err := d.RefreshToken(ctx, tok.RefreshHash); err != nil || r.RefreshUsed {
			t.Errorf("the refresh token after the failed rotation: %+v, %v; want it unspent", r, err)
		}
	})

	t.Run("whoever loses a concurrent rotation on two nodes finds the winner's answer", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		_, _, tok := spendable(t, d)
		const n = 16
		answers := make([]*oauth.KeptAnswer, n)
		errs := make([]error, n)
		found := make([]*oauth.KeptAnswer, n)
		handles := []db.Store{d, other}
		together(n, func(i int) {
			h := handles[i%2]
			answers[i] = kept(tok.RefreshHash, time.Minute)
			answers[i].Sealed = append(answers[i].Sealed, byte(i))
			errs[i] = h.RotateRefreshKeeping(t.Context(), tok.RefreshHash, successor(tok), answers[i])
			if errors.Is(errs[i], oauth.ErrRefreshUsed) {
				// What a losing refresh does next, on its own node.
				found[i], errs[i] = h.KeptAnswer(t.Context(), tok.RefreshHash)
			}
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err != nil:
				t.Errorf("rotation %d: %v", i, err)
			case found[i] == nil && winner >= 0:
				t.Errorf("rotations %d and %d both won", winner, i)
			case found[i] == nil:
				winner = i
			}
		}
		if winner < 0 {
			t.Fatal("no rotation won")
		}
		for i, a := range found {
			if a != nil && !bytes.Equal(a.Sealed, answers[winner].Sealed) {
				t.Errorf("rotation %d found %q, not the winner's answer %q", i, a.Sealed, answers[winner].Sealed)
			}
		}
	})

	t.Run("DeleteStaleKeptAnswers drops the answers whose grace period is over", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		key, alice, tok := spendable(t, d)
		var spent []oauth.Hash
		for _, grace := range []time.Duration{10 * time.Second, 30 * time.Second, time.Minute} {
			if spent != nil {
				tok = token(key, alice, oauth.GrantPassword)
				save(t, d, tok)
			}
			if err := d.RotateRefreshKeeping(ctx, tok.RefreshHash, successor(tok), kept(tok.RefreshHash, grace)); err != nil {
				t.Fatal(err)
			}
			spent = append(spent, tok.RefreshHash)
		}
		if n, err := d.DeleteStaleKeptAnswers(ctx, t0.Add(30*time.Second)); err != nil || n != 2 {
			t.Fatalf("DeleteStaleKeptAnswers: %d, %v; want 2", n, err)
		}
		for i, h := range spent {
			a, err := d.KeptAnswer(ctx, h)
			if i < 2 {
				mustNotFound(t, "a kept answer past its grace period", a, err)
			} else if err != nil {
				t.Errorf("the answer still in its grace period: %v", err)
			}
		}
		if n, err := d.DeleteStaleKeptAnswers(ctx, t0.Add(30*time.Second)); err != nil || n != 0 {
			t.Errorf("DeleteStaleKeptAnswers again: %d, %v; want 0", n, err)
		}
	})
}
