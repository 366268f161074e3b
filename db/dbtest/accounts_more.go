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
		"ChangePassword", "SetEmail", "CountUsersWithRole", "UsersByEmail", "CreatePasswordReset", "PasswordResetUser",
		"ResetPassword", "DisableUser", "EnableUser", "ListUsers", "RecentLoginCounts"} {
		covered[m] = "Accounts"
	}
}

func testAccounts(t *testing.T, s *suite) {
	t.Run("sessions", func(t *testing.T) { testSessionList(t, s) })
	t.Run("passwords", func(t *testing.T) { testPasswordChange(t, s) })
	t.Run("roles", func(t *testing.T) { testRoleCount(t, s) })
	t.Run("resets", func(t *testing.T) { testPasswordResets(t, s) })
	t.Run("disabled", func(t *testing.T) { testDisabledUsers(t, s) })
	t.Run("listing", func(t *testing.T) { testAccountListings(t, s) })
}

func testRoleCount(t *testing.T, s *suite) {
	d := s.store(t)
	user(t, d, "alice", "subscriber", "admin")
	user(t, d, "bob", "subscriber")
	user(t, d, "carol", "administrator", "admins", "xadmin")
	user(t, d, "dave")
	for role, want := range map[string]int{"admin": 1, "subscriber": 2, "administrator": 1, "nobody": 0, "": 0, "adm%": 0} {
		if n, err := d.CountUsersWithRole(t.Context(), 0, role); err != nil || n != want {
			t.Errorf("%q: %d, %v; want %d", role, n, err, want)
		}
	}
	if _, _, err := d.DisableUser(t.Context(), "alice", t0); err != nil {
		t.Fatal(err)
	}
	if n, err := d.CountUsersWithRole(t.Context(), 0, "admin"); err != nil || n != 0 {
		t.Errorf("admins once the only one is disabled: %d, %v", n, err)
	}
	// Per tenant: acme.com's admin is its only one, and not the super
	// tenant's.
	acme, _ := tenantOf(t, d, "acme.com")
	user(t, d, "erin", "admin")
	for _, c := range []struct {
		tenant int64
		want   int
	}{{acme.ID, 1}, {portal.SuperTenantID, 1}, {0, 2}} {
		if n, err := d.CountUsersWithRole(t.Context(), c.tenant, "admin"); err != nil || n != c.want {
			t.Errorf("admins of tenant %d: %d, %v; want %d", c.tenant, n, err, c.want)
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
		got, err := d.ChangePassword(ctx, w.alice.ID, "$new-hash$", w.aliceSession, true)
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
		got, err := d.ChangePassword(t.Context(), w.alice.ID, "$new-hash$", oauth.Hash{}, true)
		if err != nil || got.Sessions != 1 {
			t.Errorf("ended %+v, %v; want alice's one session", got, err)
		}
	})

	t.Run("without endAccess, sessions and tokens stay", func(t *testing.T) {
		d := s.store(t)
		w := build(t, d)
		elsewhere := session(t, d, w.alice, t0, "192.0.2.7")
		got, err := d.ChangePassword(t.Context(), w.alice.ID, "$new-hash$", oauth.Hash{}, false)
		if err != nil || got != (portal.Ended{}) {
			t.Errorf("ended %+v, %v; want nothing", got, err)
		}
		for _, id := range []oauth.Hash{w.aliceSession, elsewhere.ID} {
			if _, _, err := d.LiveSession(t.Context(), id, t0); err != nil {
				t.Errorf("a session ended: %v", err)
			}
		}
		if ended(t, d, w.aliceToken.AccessHash) {
			t.Error("the password grant's token ended")
		}
		if u, err := d.UserAccount(t.Context(), "alice"); err != nil || u.PasswordHash != "$new-hash$" {
			t.Errorf("alice: %+v, %v", u, err)
		}
	})

	t.Run("no such user", func(t *testing.T) {
		d := s.store(t)
		w := build(t, d)
		if _, err := d.ChangePassword(t.Context(), 999_999, "$new-hash$", oauth.Hash{}, true); !errors.Is(err, portal.ErrNotFound) {
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

// resetLink stores a new reset link for u, made at t0 and good for an hour.
func resetLink(t testing.TB, d db.Store, u *portal.User) oauth.Hash {
	t.Helper()
	h := oauth.HashOf(oauth.NewSecret())
	if err := d.CreatePasswordReset(t.Context(), h, u.ID, t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return h
}

func testPasswordResets(t *testing.T, s *suite) {
	t.Run("a link is its user's on every node until it expires", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		alice := user(t, d, "alice")
		link := resetLink(t, d, alice)
		for i, h := range []db.Store{d, other} {
			if u, err := h.PasswordResetUser(t.Context(), link, t0.Add(time.Hour-time.Millisecond)); err != nil || u.ID != alice.ID || u.Username != "alice" {
				t.Errorf("handle %d: %+v, %v", i, u, err)
			}
			u, err := h.PasswordResetUser(t.Context(), link, t0.Add(time.Hour))
			mustNotFound(t, "an expired link", u, err)
			u, err = h.PasswordResetUser(t.Context(), oauth.HashOf("unknown"), t0)
			mustNotFound(t, "an unknown link", u, err)
		}
	})

	t.Run("a link changes the password once and ends what the old one gave", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		w := build(t, d)
		link, second := resetLink(t, d, w.alice), resetLink(t, d, w.alice)
		bobs := resetLink(t, d, w.bob)
		for _, tok := range []*oauth.Token{w.aliceToken, w.aliceOnBob} {
			ended(t, other, tok.AccessHash) // fills the other node's cache
		}
		u, got, err := d.ResetPassword(t.Context(), link, "$reset-hash$", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if u.ID != w.alice.ID || u.Username != "alice" || u.PasswordHash != "$reset-hash$" || u.Email != "alice@example.com" {
			t.Errorf("user %+v", u)
		}
		if got != (portal.Ended{Sessions: 1, Tokens: 3}) {
			t.Errorf("ended %+v, want alice's session, her 2 password grant tokens and the consent page's", got)
		}
		if stored, err := other.UserAccount(t.Context(), "alice"); err != nil || stored.PasswordHash != "$reset-hash$" {
			t.Errorf("alice on the other node: %+v, %v", stored, err)
		}
		if !ended(t, other, w.aliceToken.AccessHash) || !ended(t, other, w.aliceOnBob.AccessHash) || ended(t, other, w.appToken.AccessHash) {
			t.Error("the password grant's or the consent page's token lives on, or the client's (no refresh token) ended")
		}
		if _, _, err := other.LiveSession(t.Context(), w.aliceSession, t0); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("alice's session: %v, want ended", err)
		}
		for name, h := range map[string]oauth.Hash{"the link used": link, "alice's other link": second} {
			u, ended, err := other.ResetPassword(t.Context(), h, "$again$", t0.Add(2*time.Minute))
			if !errors.Is(err, portal.ErrNotFound) || u != nil || ended != (portal.Ended{}) {
				t.Errorf("%s: %+v %+v, %v; want ErrNotFound", name, u, ended, err)
			}
		}
		if u, err := other.PasswordResetUser(t.Context(), bobs, t0); err != nil || u.ID != w.bob.ID {
			t.Errorf("bob's link: %+v, %v", u, err)
		}
	})

	t.Run("an expired link changes nothing", func(t *testing.T) {
		d := s.store(t)
		w := build(t, d)
		link := resetLink(t, d, w.alice)
		u, got, err := d.ResetPassword(t.Context(), link, "$reset-hash$", t0.Add(time.Hour))
		if !errors.Is(err, portal.ErrNotFound) || u != nil || got != (portal.Ended{}) {
			t.Errorf("%+v %+v, %v; want ErrNotFound", u, got, err)
		}
		if stored, err := d.UserAccount(t.Context(), "alice"); err != nil || stored.PasswordHash != w.alice.PasswordHash {
			t.Errorf("alice: %+v, %v", stored, err)
		}
		if ended(t, d, w.aliceToken.AccessHash) {
			t.Error("a token ended")
		}
	})

	t.Run("of two nodes using one link at once, one wins", func(t *testing.T) {
		d, again := s.open(t)
		handles := []db.Store{d, again(t)}
		alice := user(t, d, "alice")
		link := resetLink(t, d, alice)
		errs := make([]error, 8)
		together(len(errs), func(i int) {
			_, _, errs[i] = handles[i%2].ResetPassword(t.Context(), link, fmt.Sprintf("$hash %d$", i), t0)
		})
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Errorf("uses %d and %d both won", won, i)
			case err == nil:
				won = i
			case !errors.Is(err, portal.ErrNotFound):
				t.Errorf("use %d: %v", i, err)
			}
		}
		if u, err := d.UserAccount(t.Context(), "alice"); err != nil || won < 0 || u.PasswordHash != fmt.Sprintf("$hash %d$", won) {
			t.Errorf("alice: %+v, %v; winner %d", u, err, won)
		}
	})

	t.Run("a new password voids the links; links go with their user", func(t *testing.T) {
		d := s.store(t)
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		link, bobs := resetLink(t, d, alice), resetLink(t, d, bob)
		if _, err := d.ChangePassword(t.Context(), alice.ID, "$new$", oauth.Hash{}, false); err != nil {
			t.Fatal(err)
		}
		u, err := d.PasswordResetUser(t.Context(), link, t0)
		mustNotFound(t, "a link made before the password changed", u, err)
		if err := d.DeleteUser(t.Context(), "bob"); err != nil {
			t.Fatal(err)
		}
		u, err = d.PasswordResetUser(t.Context(), bobs, t0)
		mustNotFound(t, "a deleted user's link", u, err)
	})

	t.Run("making a link sweeps out expired ones", func(t *testing.T) {
		d := s.store(t)
		alice := user(t, d, "alice")
		old := resetLink(t, d, alice)
		fresh := oauth.HashOf(oauth.NewSecret())
		if err := d.CreatePasswordReset(t.Context(), fresh, alice.ID, t0.Add(2*time.Hour), t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		u, err := d.PasswordResetUser(t.Context(), old, t0) // before it expired, but swept
		mustNotFound(t, "an expired link, swept", u, err)
		if u, err := d.PasswordResetUser(t.Context(), fresh, t0.Add(2*time.Hour)); err != nil || u.ID != alice.ID {
			t.Errorf("the new link: %+v, %v", u, err)
		}
	})

	t.Run("users are found by email address in any case", func(t *testing.T) {
		d := s.store(t)
		user(t, d, "alice")
		bob := user(t, d, "Bob")
		user(t, d, "carol")
		if err := d.SetEmail(t.Context(), bob.ID, "Alice@Example.com"); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			email string
			want  []string
		}{
			{"alice@example.com", []string{"alice", "Bob"}},
			{"ALICE@EXAMPLE.COM", []string{"alice", "Bob"}},
			{"carol@example.com", []string{"carol"}},
			{"nobody@example.com", nil},
			{"", nil},
			{"bad\x00text", nil},
		} {
			got, err := d.UsersByEmail(t.Context(), tt.email)
			if err != nil || !sameWords(names(got, func(u portal.User) string { return u.Username }), tt.want) {
				t.Errorf("%q: %v, %v; want %v", tt.email, names(got, func(u portal.User) string { return u.Username }), err, tt.want)
			}
		}
	})
}

func testDisabledUsers(t *testing.T, s *suite) {
	t.Run("a disabled user and their applications lose every access at once, on every node", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		ctx := t.Context()
		w := build(t, d)
		bobOwn := token(w.bobKey, w.bob, oauth.GrantPassword)
		save(t, d, bobOwn)
		gone := []*oauth.Token{w.aliceToken, w.appToken, w.sandboxToken, w.aliceOnBob, w.bobToken}
		for _, tok := range append(gone, bobOwn) {
			if ended(t, other, tok.AccessHash) { // fills the other node's cache
				t.Fatal("a token ended before")
			}
		}
		if _, err := other.ClientByKey(ctx, w.key.ConsumerKey); err != nil {
			t.Fatal(err)
		}
		before := generation(t, other)
		u, got, err := d.DisableUser(ctx, "ALICE", t0)
		if err != nil {
			t.Fatal(err)
		}
		if u.Username != "alice" || !u.Disabled || !u.DisabledAt.Equal(t0) {
			t.Errorf("user %+v", u)
		}
		if got != (portal.Ended{Sessions: 1, Tokens: 5}) {
			t.Errorf("ended %+v, want alice's session and 5 tokens (4 for her, 1 for bob on her application)", got)
		}
		if generation(t, other) == before {
			t.Error("the access generation did not move")
		}
		for i, tok := range gone {
			if !ended(t, other, tok.AccessHash) {
				t.Errorf("token %d still valid", i)
			}
		}
		if ended(t, other, bobOwn.AccessHash) {
			t.Error("bob's token on his own application ended")
		}
		c, err := other.ClientByKey(ctx, w.key.ConsumerKey)
		mustNotFound(t, "a key of alice's application", c, err)
		if c, err := other.ClientByKey(ctx, w.bobKey.ConsumerKey); err != nil || c.Owner != "bob" {
			t.Errorf("bob's key: %+v, %v", c, err)
		}
		roles, err := other.UserRoles(ctx, w.alice.ID)
		if !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("UserRoles of a disabled user: %v, %v; want ErrNotFound", roles, err)
		}
		if ou, err := other.UserByName(ctx, "alice"); err != nil || !ou.Disabled {
			t.Errorf("UserByName: %+v, %v; want the user, disabled", ou, err)
		}
		if pu, err := other.UserAccount(ctx, "alice"); err != nil || !pu.Disabled || !pu.DisabledAt.Equal(t0) {
			t.Errorf("UserAccount: %+v, %v", pu, err)
		}
		for name, code := range map[string]*oauth.Code{"bob's code on alice's application": w.bobCode, "alice's code": w.aliceCode} {
			got, err := other.CodeByHash(ctx, code.Hash)
			mustNotFound(t, name, got, err)
		}
		if _, _, err := other.LiveSession(ctx, w.aliceSession, t0); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("alice's session: %v, want ended", err)
		}
		if _, _, err := other.LiveSession(ctx, w.bobSession, t0); err != nil {
			t.Errorf("bob's session: %v", err)
		}
		// A session or a token made while she is disabled (one whose request
		// began before) says so, or is not found.
		late := session(t, d, w.alice, t0, "192.0.2.9")
		if _, lu, err := other.LiveSession(ctx, late.ID, t0); err != nil || !lu.Disabled {
			t.Errorf("a session started after: %+v, %v; want the user, disabled", lu, err)
		}
		lateToken := token(w.other, w.alice, oauth.GrantClientCredentials)
		save(t, d, lateToken)
		if !ended(t, other, lateToken.AccessHash) {
			t.Error("a token stored after disabling is valid")
		}
		// Again: nothing more to end, and the time stays.
		if u, got, err := d.DisableUser(ctx, "alice", t0.Add(time.Hour)); err != nil || got != (portal.Ended{}) || !u.DisabledAt.Equal(t0) {
			t.Errorf("disabling again: %+v %+v, %v", u, got, err)
		}
	})

	t.Run("enabling gives nothing back, but allows anew", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		ctx := t.Context()
		w := build(t, d)
		if _, _, err := d.DisableUser(ctx, "alice", t0); err != nil {
			t.Fatal(err)
		}
		u, err := d.EnableUser(ctx, "Alice")
		if err != nil || u.Username != "alice" || u.Disabled || !u.DisabledAt.IsZero() {
			t.Fatalf("enabled: %+v, %v", u, err)
		}
		if !ended(t, other, w.aliceToken.AccessHash) || !ended(t, other, w.appToken.AccessHash) {
			t.Error("a token ended by disabling came back")
		}
		fresh := token(w.key, w.alice, oauth.GrantClientCredentials)
		save(t, d, fresh)
		if ended(t, other, fresh.AccessHash) {
			t.Error("a new token after enabling is not valid")
		}
		if c, err := other.ClientByKey(ctx, w.key.ConsumerKey); err != nil || c.Owner != "alice" {
			t.Errorf("alice's key: %+v, %v", c, err)
		}
		if roles, err := other.UserRoles(ctx, w.alice.ID); err != nil || !sameWords(roles, []string{"subscriber"}) {
			t.Errorf("roles: %v, %v", roles, err)
		}
		if u, err := d.EnableUser(ctx, "alice"); err != nil || u.Disabled {
			t.Errorf("enabling an enabled user: %+v, %v", u, err)
		}
	})

	t.Run("no such user", func(t *testing.T) {
		d := s.store(t)
		u, ended, err := d.DisableUser(t.Context(), "nobody", t0)
		if !errors.Is(err, portal.ErrNotFound) || u != nil || ended != (portal.Ended{}) {
			t.Errorf("DisableUser: %+v %+v, %v", u, ended, err)
		}
		u, err = d.EnableUser(t.Context(), "nobody")
		mustNotFound(t, "EnableUser", u, err)
	})
}

func testAccountListings(t *testing.T, s *suite) {
	t.Run("users by a part of their name or address, in any case, by name", func(t *testing.T) {
		d := s.store(t)
		for _, name := range []string{"carol", "Alice", "bob", "alicia", "dave"} {
			user(t, d, name)
		}
		dave, err := d.UserAccount(t.Context(), "dave")
		if err != nil {
			t.Fatal(err)
		}
		if err := d.SetEmail(t.Context(), dave.ID, "dave@ALI.example"); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			filter string
			limit  int
			want   []string
		}{
			{"", 100, []string{"Alice", "alicia", "bob", "carol", "dave"}},
			{"", 2, []string{"Alice", "alicia"}},
			{"ALI", 100, []string{"Alice", "alicia", "dave"}},
			{"example.com", 100, []string{"Alice", "alicia", "bob", "carol"}},
			{"%", 100, nil},
			{"_", 100, nil},
			{"nobody", 100, nil},
		} {
			got, err := d.ListUsers(t.Context(), 0, tt.filter, tt.limit)
			if err != nil || !sameWords(names(got, func(u portal.User) string { return u.Username }), tt.want) {
				t.Errorf("%q, %d: %v, %v; want %v", tt.filter, tt.limit, names(got, func(u portal.User) string { return u.Username }), err, tt.want)
			}
		}
	})

	t.Run("recent counters, the latest first", func(t *testing.T) {
		d, again := s.open(t)
		for _, f := range []struct {
			key string
			at  time.Time
		}{
			{"u:old", t0.Add(-time.Hour)},
			{"u:alice", t0},
			{"a:192.0.2.1", t0.Add(time.Minute)},
			{"u:alice", t0.Add(2 * time.Minute)},
			{"c:KEY", t0.Add(3 * time.Minute)},
		} {
			if _, err := d.SettleLogin(t.Context(), 0, []string{f.key}, f.at, f.at.Add(-lockout)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := again(t).RecentLoginCounts(t.Context(), t0.Add(-lockout), 100)
		if err != nil {
			t.Fatal(err)
		}
		want := []portal.LoginCount{{Key: "c:KEY", Failures: 1, Last: t0.Add(3 * time.Minute)},
			{Key: "u:alice", Failures: 2, Last: t0.Add(2 * time.Minute)}, {Key: "a:192.0.2.1", Failures: 1, Last: t0.Add(time.Minute)}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		if got, err := d.RecentLoginCounts(t.Context(), t0.Add(-lockout), 1); err != nil || len(got) != 1 || got[0].Key != "c:KEY" {
			t.Errorf("limit 1: %+v, %v", got, err)
		}
		if err := d.ClearLoginFailures(t.Context(), "u:alice"); err != nil {
			t.Fatal(err)
		}
		if got, err := d.RecentLoginCounts(t.Context(), t0.Add(-lockout), 100); err != nil || len(got) != 2 {
			t.Errorf("after clearing alice's: %+v, %v", got, err)
		}
	})
}
