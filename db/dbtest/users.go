package dbtest

import (
	"errors"
	"testing"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func testUsers(t *testing.T, s *suite) {
	t.Run("a user is found by id and by name in any case", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice", "subscriber", "admin")
		if alice.ID == 0 {
			t.Fatal("CreateUser left the id unset")
		}
		check := func(how string, u *portal.User, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			if u.ID != alice.ID || u.Username != "alice" || u.PasswordHash != alice.PasswordHash ||
				u.Email != "alice@example.com" || !sameWords(u.Roles, []string{"subscriber", "admin"}) || u.CreatedAt.IsZero() {
				t.Errorf("%s: %+v", how, u)
			}
		}
		for _, name := range []string{"alice", "ALICE", "Alice"} {
			u, err := d.UserAccount(ctx, name)
			check("UserAccount "+name, u, err)
			ou, err := d.UserByName(ctx, name)
			if err != nil || ou.ID != alice.ID || ou.Username != "alice" || !sameWords(ou.Roles, alice.Roles) {
				t.Errorf("UserByName %s: %+v, %v", name, ou, err)
			}
		}
		u, err := d.UserByID(ctx, alice.ID)
		check("UserByID", u, err)
		if roles, err := d.UserRoles(ctx, alice.ID); err != nil || !sameWords(roles, []string{"subscriber", "admin"}) {
			t.Errorf("UserRoles: %v, %v", roles, err)
		}
		bob := user(t, d, "bob")
		if roles, err := d.UserRoles(ctx, bob.ID); err != nil || len(roles) != 0 {
			t.Errorf("UserRoles of a user without roles: %q, %v", roles, err)
		}
	})

	t.Run("a username taken in any case is a conflict", func(t *testing.T) {
		d := s.store(t)
		user(t, d, "alice")
		for _, tt := range []struct {
			name     string
			conflict bool
		}{
			{"alice", true},
			{"ALICE", true},
			{"aLiCe", true},
			{"alice2", false},
			{"alic", false},
		} {
			err := d.CreateUser(t.Context(), &portal.User{User: oauth.User{Username: tt.name, PasswordHash: "x"}})
			if got := errors.Is(err, portal.ErrConflict); got != tt.conflict || (!tt.conflict && err != nil) {
				t.Errorf("CreateUser %q: %v, want conflict %v", tt.name, err, tt.conflict)
			}
		}
	})

	t.Run("deleting a user, named in any case, ends everything of theirs", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		w := build(t, d)
		if err := d.DeleteUser(ctx, "ALICE"); err != nil {
			t.Fatal(err)
		}
		u, err := d.UserAccount(ctx, "alice")
		mustNotFound(t, "the user", u, err)
		for _, k := range []struct {
			what string
			key  string
		}{{"App's production key", w.key.ConsumerKey}, {"App's sandbox key", w.sandbox.ConsumerKey}, {"Other's key", w.other.ConsumerKey}} {
			c, err := d.ClientByKey(ctx, k.key)
			mustNotFound(t, k.what, c, err)
		}
		for _, tok := range []struct {
			what string
			tok  *oauth.Token
		}{
			{"alice's token", w.aliceToken}, {"App's client_credentials token", w.appToken},
			{"bob's token on alice's application", w.bobToken}, {"alice's token on bob's application", w.aliceOnBob},
		} {
			if !ended(t, d, tok.tok.AccessHash) {
				t.Errorf("%s still gives access", tok.what)
			}
		}
		for _, c := range []struct {
			what string
			code *oauth.Code
		}{{"bob's code for alice's application", w.bobCode}, {"alice's code for bob's application", w.aliceCode}} {
			got, err := d.CodeByHash(ctx, c.code.Hash)
			mustNotFound(t, c.what, got, err)
		}
		su, err := d.SessionUser(ctx, w.aliceSession, t0)
		mustNotFound(t, "alice's session", su, err)
		if list, err := d.Consents(ctx, w.bob.ID); err != nil || len(list) != 0 {
			t.Errorf("bob's consents to alice's application: %+v, %v", list, err)
		}
		if list, err := d.Consents(ctx, w.alice.ID); err != nil || len(list) != 0 {
			t.Errorf("alice's consents: %+v, %v", list, err)
		}
		if list, err := d.ApplicationsByOwner(ctx, w.alice.ID); err != nil || len(list) != 0 {
			t.Errorf("alice's applications: %+v, %v", list, err)
		}
		if _, _, err := d.SubscriptionTier(ctx, w.key.AppID, w.api.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("App's subscription: %v", err)
		}

		// Bob and what is his stay.
		if _, err := d.UserAccount(ctx, "bob"); err != nil {
			t.Errorf("bob: %v", err)
		}
		if c, err := d.ClientByKey(ctx, w.bobKey.ConsumerKey); err != nil || c.Owner != "bob" {
			t.Errorf("bob's key: %+v, %v", c, err)
		}
		if su, err := d.SessionUser(ctx, w.bobSession, t0); err != nil || su.Username != "bob" {
			t.Errorf("bob's session: %+v, %v", su, err)
		}
		if _, err := d.APIByID(ctx, w.api.ID); err != nil {
			t.Errorf("the API: %v", err)
		}
		if err := d.DeleteUser(ctx, "alice"); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("deleting alice again: %v, want ErrNotFound", err)
		}
	})
}
