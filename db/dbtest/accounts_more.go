package dbtest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// The accounts' part of the suite (issue 18): what users do to their own
// account and administrators to accounts. It registers itself here rather
// than in groups and covered, which other work changes too.
func init() {
	groups = append(groups, group{"Accounts", testAccounts})
	for _, m := range []string{"StartSession", "LiveSession", "TouchSession", "UserSessions", "EndSession", "EndOtherSessions",
		"ChangePassword", "SetEmail", "CountUsersWithRole"} {
		covered[m] = "Accounts"
	}
}

func testAccounts(t *testing.T, s *suite) {
	t.Run("sessions", func(t *testing.T) { testSessionList(t, s) })
	t.Run("passwords", func(t *testing.T) { testPasswordChange(t, s) })
	t.Run("roles", func(t *testing.T) { testRoleCount(t, s) })
}

func testRoleCount(t *testing.T, s *suite) {
	d := s.store(t)
	user(t, d, "alice", "subscriber", "admin")
	user(t, d, "bob", "subscriber")
	user(t, d, "carol", "administrator", "admins", "xadmin")
	user(t, d, "dave")
	for role, want := range map[string]int{"admin": 1, "subscriber": 2, "administrator": 1, "nobody": 0, "": 0, "adm%": 0} {
		if n, err := d.CountUsersWithRole(t.Context(), role); err != nil || n != want {
			t.Errorf("%q: %d, %v; want %d", role, n, err, want)
		}
	}
}

// session starts a session of u that began at start and lasts an hour.
func session(t testing.TB, d db.Store, u *portal.User, start time.Time, address string) portal.Session {
	t.Helper()
	ps := portal.Session{ID: oauth.HashOf(oauth.NewSecret()), UserID: u.ID, CreatedAt: start, LastSeenAt: start,
		ExpiresAt: start.Add(time.Hour), Address: address, UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0 " + address}
	if err := d.StartSession(t.Context(), ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

func testSessionList(t *testing.T, s *suite) {
	t.Run("a started session is live with its user, address and browser on every node until it expires", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		alice := user(t, d, "alice", "admin")
		started := session(t, d, alice, t0, "192.0.2.1")
		for i, h := range []db.Store{d, other} {
			got, u, err := h.LiveSession(t.Context(), started.ID, t0.Add(time.Minute))
			if err != nil {
				t.Fatalf("handle %d: %v", i, err)
			}
			if got.ID != started.ID || got.UserID != alice.ID || !got.CreatedAt.Equal(t0) || !got.LastSeenAt.Equal(t0) ||
				!got.ExpiresAt.Equal(t0.Add(time.Hour)) || got.Address != "192.0.2.1" || got.UserAgent != started.UserAgent {
				t.Errorf("handle %d: session %+v, want %+v", i, got, started)
			}
			if u.ID != alice.ID || u.Username != "alice" || !sameWords(u.Roles, []string{"admin"}) || u.Email != "alice@example.com" {
				t.Errorf("handle %d: user %+v", i, u)
			}
			gs, gu, err := h.LiveSession(t.Context(), started.ID, t0.Add(time.Hour))
			if err == nil || !errors.Is(err, portal.ErrNotFound) {
				t.Errorf("handle %d: expired session: %+v %+v, %v", i, gs, gu, err)
			}
		}
		gs, gu, err := d.LiveSession(t.Context(), oauth.HashOf("unknown"), t0)
		if !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("unknown session: %+v %+v, %v", gs, gu, err)
		}
	})

	t.Run("touching records when and where a session was last used", func(t *testing.T) {
		d, again := s.open(t)
		alice := user(t, d, "alice")
		ps := session(t, d, alice, t0, "192.0.2.1")
		if err := again(t).TouchSession(t.Context(), ps.ID, t0.Add(10*time.Minute), "2001:db8::1"); err != nil {
			t.Fatal(err)
		}
		got, _, err := d.LiveSession(t.Context(), ps.ID, t0.Add(11*time.Minute))
		if err != nil || !got.LastSeenAt.Equal(t0.Add(10*time.Minute)) || got.Address != "2001:db8::1" || !got.CreatedAt.Equal(t0) {
			t.Errorf("after touching: %+v, %v", got, err)
		}
		if err := d.TouchSession(t.Context(), oauth.HashOf("ended"), t0, "192.0.2.9"); err != nil {
			t.Errorf("touching an ended session: %v", err)
		}
	})

	t.Run("a user's sessions are listed most recently used first, without others' or expired ones", func(t *testing.T) {
		d := s.store(t)
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		old := session(t, d, alice, t0.Add(-50*time.Minute), "192.0.2.1")
		newer := session(t, d, alice, t0.Add(-10*time.Minute), "192.0.2.2")
		session(t, d, alice, t0.Add(-2*time.Hour), "192.0.2.3") // expired an hour ago
		session(t, d, bob, t0, "192.0.2.4")
		if err := d.TouchSession(t.Context(), old.ID, t0.Add(-time.Minute), "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		list, err := d.UserSessions(t.Context(), alice.ID, t0)
		if err != nil {
			t.Fatal(err)
		}
		got := names(list, func(s portal.Session) string { return s.Address })
		if fmt.Sprint(got) != "[192.0.2.1 192.0.2.2]" {
			t.Errorf("alice's sessions by address: %v, want the one used a minute ago, then the one started ten minutes ago", got)
		}
		if len(list) == 2 && (list[1].ID != newer.ID || list[0].UserAgent != old.UserAgent) {
			t.Errorf("sessions: %+v", list)
		}
		if list, err := d.UserSessions(t.Context(), 999_999, t0); err != nil || len(list) != 0 {
			t.Errorf("no such user: %v, %v", list, err)
		}
	})

	t.Run("a user ends their own sessions only", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		mine, theirs := session(t, d, alice, t0, "192.0.2.1"), session(t, d, bob, t0, "192.0.2.2")
		if err := d.EndSession(t.Context(), alice.ID, theirs.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("alice ending bob's session: %v, want ErrNotFound", err)
		}
		if _, _, err := other.LiveSession(t.Context(), theirs.ID, t0); err != nil {
			t.Errorf("bob's session after alice tried to end it: %v", err)
		}
		if err := d.EndSession(t.Context(), alice.ID, mine.ID); err != nil {
			t.Fatal(err)
		}
		gs, gu, err := other.LiveSession(t.Context(), mine.ID, t0)
		if !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("ended session on the other node: %+v %+v, %v", gs, gu, err)
		}
		if err := d.EndSession(t.Context(), alice.ID, mine.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("ending it again: %v, want ErrNotFound", err)
		}
	})

	t.Run("ending the other sessions keeps the one named and the other users'", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		keep := session(t, d, alice, t0, "192.0.2.1")
		ends := []portal.Session{session(t, d, alice, t0, "192.0.2.2"), session(t, d, alice, t0, "192.0.2.3")}
		bobs := session(t, d, bob, t0, "192.0.2.4")
		n, err := d.EndOtherSessions(t.Context(), alice.ID, keep.ID)
		if err != nil || n != 2 {
			t.Fatalf("ended %d, %v; want 2", n, err)
		}
		for _, e := range ends {
			if _, _, err := other.LiveSession(t.Context(), e.ID, t0); !errors.Is(err, portal.ErrNotFound) {
				t.Errorf("session from %s: %v, want ended", e.Address, err)
			}
		}
		for _, k := range []portal.Session{keep, bobs} {
			if _, _, err := other.LiveSession(t.Context(), k.ID, t0); err != nil {
				t.Errorf("session from %s: %v, want kept", k.Address, err)
			}
		}
		if n, err := d.EndOtherSessions(t.Context(), alice.ID, oauth.Hash{}); err != nil || n != 1 {
			t.Errorf("ending every session (zero hash): %d, %v; want 1", n, err)
		}
		if n, err := d.EndOtherSessions(t.Context(), alice.ID, oauth.Hash{}); err != nil || n != 0 {
			t.Errorf("with none left: %d, %v", n, err)
		}
	})

	t.Run("starting a session sweeps out expired ones", func(t *testing.T) {
		d := s.store(t)
		alice := user(t, d, "alice")
		session(t, d, alice, t0, "192.0.2.1")
		session(t, d, alice, t0.Add(2*time.Hour), "192.0.2.2") // the first expired an hour before
		if n, err := d.EndOtherSessions(t.Context(), alice.ID, oauth.Hash{}); err != nil || n != 1 {
			t.Errorf("sessions left: %d, %v; want the new one alone", n, err)
		}
	})

	t.Run("sessions end with their user", func(t *testing.T) {
		d := s.store(t)
		alice := user(t, d, "alice")
		ps := session(t, d, alice, t0, "192.0.2.1")
		if err := d.DeleteUser(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.LiveSession(t.Context(), ps.ID, t0); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("session of a deleted user: %v", err)
		}
	})
}

func testPasswordChange(t *testing.T, s *suite) {
	t.Run("a new password ends the other sessions and the password grant's tokens, at once on every node", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		ctx := t.Context()
		w := build(t, d)
		next := successor(w.aliceToken)
		if err := d.RotateRefresh(ctx, w.aliceToken.RefreshHash, next); err != nil {
			t.Fatal(err)
		}
		elsewhere := session(t, d, w.alice, t0, "192.0.2.7")
		for _, tok := range []*oauth.Token{next, w.sandboxToken, w.appToken, w.aliceOnBob, w.bobToken} {
			if ended(t, other, tok.AccessHash) { // fills the other node's cache
				t.Fatal("a token ended before the change")
			}
		}
		before := generation(t, other)
		got, err := d.ChangePassword(ctx, w.alice.ID, "$new-hash$", w.aliceSession)
		if err != nil {
			t.Fatal(err)
		}
		if got != (portal.Ended{Sessions: 1, Tokens: 3}) {
			t.Errorf("ended %+v, want the other session and 3 tokens (the chain of two and the sandbox key's)", got)
		}
		if generation(t, other) == before {
			t.Error("the access generation did not move")
		}
		for _, tt := range []struct {
			name  string
			tok   *oauth.Token
			ended bool
		}{
			{"the password grant's token, refreshed since", w.aliceToken, true},
			{"the token its refresh token gave", next, true},
			{"the password grant's token of another key", w.sandboxToken, true},
			{"alice's application token (client_credentials)", w.appToken, false},
			{"alice's token of the consent page (authorization code)", w.aliceOnBob, false},
			{"bob's token on alice's application", w.bobToken, false},
		} {
			if got := ended(t, other, tt.tok.AccessHash); got != tt.ended {
				t.Errorf("%s: ended %v, want %v", tt.name, got, tt.ended)
			}
		}
		if _, _, err := other.LiveSession(ctx, w.aliceSession, t0); err != nil {
			t.Errorf("the session kept: %v", err)
		}
		if _, _, err := other.LiveSession(ctx, elsewhere.ID, t0); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("alice's other session: %v, want ended", err)
		}
		if _, _, err := other.LiveSession(ctx, w.bobSession, t0); err != nil {
			t.Errorf("bob's session: %v", err)
		}
		if u, err := other.UserAccount(ctx, "alice"); err != nil || u.PasswordHash != "$new-hash$" {
			t.Errorf("alice: %+v, %v", u, err)
		}
		if u, err := other.UserAccount(ctx, "bob"); err != nil || u.PasswordHash != w.bob.PasswordHash {
			t.Errorf("bob's password changed too: %+v, %v", u, err)
		}
	})

	t.Run("with no session to keep, every session ends", func(t *testing.T) {
		d := s.store(t)
		w := build(t, d)
		got, err := d.ChangePassword(t.Context(), w.alice.ID, "$new-hash$", oauth.Hash{})
		if err != nil || got.Sessions != 1 {
			t.Errorf("ended %+v, %v; want alice's one session", got, err)
		}
	})

	t.Run("no such user", func(t *testing.T) {
		d := s.store(t)
		w := build(t, d)
		if _, err := d.ChangePassword(t.Context(), 999_999, "$new-hash$", oauth.Hash{}); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("ChangePassword: %v, want ErrNotFound", err)
		}
		if err := d.SetEmail(t.Context(), 999_999, "x@example.com"); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("SetEmail: %v, want ErrNotFound", err)
		}
		if ended(t, d, w.aliceToken.AccessHash) {
			t.Error("a failed change ended a token")
		}
	})

	t.Run("a new email address", func(t *testing.T) {
		d, again := s.open(t)
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		if err := d.SetEmail(t.Context(), alice.ID, "alice@new.example"); err != nil {
			t.Fatal(err)
		}
		if u, err := again(t).UserAccount(t.Context(), "alice"); err != nil || u.Email != "alice@new.example" {
			t.Errorf("alice: %+v, %v", u, err)
		}
		if u, err := d.UserByID(t.Context(), bob.ID); err != nil || u.Email != "bob@example.com" {
			t.Errorf("bob: %+v, %v", u, err)
		}
	})
}
