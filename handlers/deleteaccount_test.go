package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func TestDeleteAccount(t *testing.T) {
	env := newStore(t)
	laptop := env.browser()
	laptop.signUp("alice", "alice-password")
	laptop.addApplication("Shop")
	phone := env.browser()
	phone.logIn("alice", "alice-password")
	bob := env.browser()
	bob.signUp("bob", "bob-password")
	toks := env.tokensOf(t, "alice", "alice-password")
	bobs, oerr := env.oauth.Token(context.Background(), &oauth.TokenRequest{GrantType: oauth.GrantPassword,
		ClientID: toks.key.ConsumerKey, ClientSecret: toks.key.Secret, Username: "bob", Password: "bob-password"})
	if oerr != nil {
		t.Fatal(oerr)
	}
	exists := func() bool {
		_, err := env.db.UserAccount(context.Background(), "alice")
		if err != nil && !errors.Is(err, portal.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	p := laptop.get("/store/account/delete")
	if p.status != http.StatusOK {
		t.Fatalf("ask: %d", p.status)
	}
	mustContain(t, p.body, "Delete your account alice?", "Shop", "App of alice",
		"Delete my account", `href="/store/account">Cancel<`)

	if p := laptop.post("/store/account/delete", url.Values{"current_password": {"alice-password"}}); p.status != http.StatusForbidden || !exists() {
		t.Errorf("forged form: %d, account exists %v", p.status, exists())
	}
	p = laptop.submit("/store/account/delete", url.Values{"current_password": {"guess-guess"}})
	if p.status != http.StatusUnprocessableEntity || !exists() {
		t.Errorf("wrong password: %d, account exists %v", p.status, exists())
	}
	mustContain(t, p.body, "This is not your current password.", "Delete my account")
	if p := laptop.submit("/store/account/delete", url.Values{}); p.status != http.StatusUnprocessableEntity || !exists() {
		t.Errorf("no password: %d", p.status)
	}

	p = laptop.submit("/store/account/delete", url.Values{"current_password": {"alice-password"}})
	if p.status != http.StatusSeeOther || p.location != "/store" {
		t.Fatalf("delete: %d to %q\n%s", p.status, p.location, p.body)
	}
	home := laptop.get("/store")
	mustContain(t, home.body, "Your account alice is deleted.")
	mustNotContain(t, home.body, `data-testid="username"`)
	if exists() {
		t.Error("the account is still there")
	}
	if laptop.loggedIn() || phone.loggedIn() {
		t.Error("a session of the deleted account still works")
	}
	if !bob.loggedIn() {
		t.Error("another user was logged out")
	}
	for _, tt := range []struct{ name, token string }{
		{"alice's password grant on her application", toks.password.AccessToken},
		{"her application's own token", toks.app.AccessToken},
		{"alice's password grant on another's application", toks.passwordOnOther.AccessToken},
		{"bob's token on alice's application", bobs.AccessToken},
	} {
		if env.valid(t, tt.token) {
			t.Errorf("%s still works", tt.name)
		}
	}
	if p := env.browser().logIn("alice", "alice-password"); p.status != http.StatusUnauthorized {
		t.Errorf("log in as the deleted user: %d", p.status)
	}
	got := auditEvents(t, env, portal.AuditUserDeleted)
	if len(got) != 1 || got[0].Username != "alice" || !strings.Contains(got[0].Detail, "own account") ||
		!strings.Contains(got[0].Detail, "Shop") {
		t.Errorf("audit: %+v", got)
	}
	// The name is free again.
	env.browser().signUp("alice", "another-password")
}

func TestTheOnlyAdminCannotDeleteTheirAccount(t *testing.T) {
	env := newStore(t)
	fixture.User(t, env.db, "root", "root-password", "admin")
	b := env.browser()
	b.logIn("root", "root-password")
	p := b.get("/store/account/delete")
	mustContain(t, p.body, "You are the only user with the admin role")
	mustNotContain(t, p.body, "Delete my account")
	if p := b.submit("/store/account/delete", url.Values{"current_password": {"root-password"}}); p.status != http.StatusConflict {
		t.Errorf("delete the only admin: %d", p.status)
	}
	if _, err := env.db.UserAccount(context.Background(), "root"); err != nil {
		t.Fatalf("the only admin is gone: %v", err)
	}
	fixture.User(t, env.db, "second", "second-password", "subscriber", "admin")
	if p := b.submit("/store/account/delete", url.Values{"current_password": {"root-password"}}); p.status != http.StatusSeeOther {
		t.Errorf("delete with another admin left: %d", p.status)
	}
}
