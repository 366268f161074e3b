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

// tokens of a user, as an application got them from the oauth core.
type userTokens struct {
	key             fixture.Key
	password        *oauth.TokenResponse // the password grant's, with a refresh token
	app             *oauth.TokenResponse // the application's own (client_credentials)
	passwordOnOther *oauth.TokenResponse // the password grant's, on another application's key
}

// tokensOf gets alice's tokens on an application of hers, and on one of
// bob's, as a client would at /token.
func (e *storeEnv) tokensOf(t *testing.T, username, password string) userTokens {
	t.Helper()
	ctx := context.Background()
	u, err := e.db.UserAccount(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := fixture.App(t, e.db, u, "App of "+username)
	other, _ := fixture.App(t, e.db, fixture.User(t, e.db, "other-of-"+username, "other-password"), "Other")
	grant := func(k fixture.Key, form *oauth.TokenRequest) *oauth.TokenResponse {
		t.Helper()
		form.ClientID, form.ClientSecret = k.ConsumerKey, k.Secret
		resp, oerr := e.oauth.Token(ctx, form)
		if oerr != nil {
			t.Fatalf("%s grant: %v", form.GrantType, oerr)
		}
		return resp
	}
	pw := &oauth.TokenRequest{GrantType: oauth.GrantPassword, Username: username, Password: password}
	return userTokens{key: key, password: grant(key, pw), app: grant(key, &oauth.TokenRequest{GrantType: oauth.GrantClientCredentials}),
		passwordOnOther: grant(other, &oauth.TokenRequest{GrantType: oauth.GrantPassword, Username: username, Password: password})}
}

// valid reports whether an access token is accepted now, as the gateway and
// /introspect check it.
func (e *storeEnv) valid(t *testing.T, token string) bool {
	t.Helper()
	_, err := e.oauth.Validate(context.Background(), token)
	if err != nil && !errors.Is(err, oauth.ErrInvalidToken) {
		t.Fatal(err)
	}
	return err == nil
}

// refreshes reports whether a refresh token still gives new tokens.
func (e *storeEnv) refreshes(t *testing.T, k fixture.Key, refresh string) bool {
	t.Helper()
	_, oerr := e.oauth.Token(context.Background(), &oauth.TokenRequest{GrantType: oauth.GrantRefreshToken,
		ClientID: k.ConsumerKey, ClientSecret: k.Secret, RefreshToken: refresh})
	return oerr == nil
}

func (e *storeEnv) passwordIs(t *testing.T, username, password string) bool {
	t.Helper()
	u, err := e.db.UserAccount(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return oauth.CheckPassword(u.PasswordHash, password)
}

func TestChangePassword(t *testing.T) {
	env := newStore(t)
	laptop := env.browser()
	laptop.signUp("alice", "old-password")
	phone := env.browser()
	phone.logIn("alice", "old-password")
	bob := env.browser()
	bob.signUp("bob", "bob-password")
	toks := env.tokensOf(t, "alice", "old-password")
	change := url.Values{"current_password": {"old-password"}, "password": {"brand-new-pass"}, "password_confirm": {"brand-new-pass"},
		"end_others": {"true"}}

	t.Run("a forged form changes nothing", func(t *testing.T) {
		form := url.Values{}
		for k, v := range change {
			form[k] = v
		}
		if p := laptop.post("/store/account/password", form); p.status != http.StatusForbidden {
			t.Errorf("without the form token: %d", p.status)
		}
		if !env.passwordIs(t, "alice", "old-password") {
			t.Error("the password changed")
		}
	})

	t.Run("refused forms say why and echo no password", func(t *testing.T) {
		for _, tt := range []struct {
			name, field, value, message string
		}{
			{"no current password", "current_password", "", "Fill this in."},
			{"short new password", "password", "short", "A password has 8 to 256 characters"},
			{"passwords differ", "password_confirm", "brand-new-pasz", "The passwords do not match."},
			{"the same password", "password", "old-password", "Choose a new password"},
			{"wrong current password", "current_password", "guess-guess", "This is not your current password."},
		} {
			t.Run(tt.name, func(t *testing.T) {
				form := url.Values{}
				for k, v := range change {
					form[k] = v
				}
				form.Set(tt.field, tt.value)
				if tt.name == "the same password" {
					form.Set("password_confirm", tt.value)
				}
				p := laptop.submit("/store/account/password", form)
				if p.status != http.StatusUnprocessableEntity {
					t.Fatalf("status %d", p.status)
				}
				mustContain(t, p.body, tt.message, "<h1>My account</h1>")
				mustNotContain(t, p.body, "brand-new-pass", "old-password", "guess-guess")
				if !env.passwordIs(t, "alice", "old-password") {
					t.Error("the password changed")
				}
			})
		}
		if got := auditEvents(t, env, portal.AuditLoginFailed); len(got) != 1 || got[0].Username != "alice" ||
			!strings.Contains(got[0].Detail, "wrong current password") {
			t.Errorf("audit of the wrong password: %+v", got)
		}
	})

	t.Run("the box to end the others is ticked on the page", func(t *testing.T) {
		mustContain(t, laptop.get("/store/account").body, `<input type="checkbox" name="end_others" value="true" checked>`)
	})

	t.Run("a new password ends the other sessions and the password grant's tokens at once", func(t *testing.T) {
		before := laptop.cookie("apistore_session").Value
		p := laptop.submit("/store/account/password", change)
		if p.status != http.StatusSeeOther || p.location != "/store/account" {
			t.Fatalf("change: %d to %q\n%s", p.status, p.location, p.body)
		}
		mustContain(t, laptop.get("/store/account").body,
			"Password changed: 1 other session logged out, 2 tokens of the password grant revoked.")
		if !laptop.loggedIn() || laptop.cookie("apistore_session").Value == before {
			t.Error("this browser is logged out, or kept its session id")
		}
		if phone.loggedIn() {
			t.Error("the other session survived")
		}
		if !bob.loggedIn() {
			t.Error("another user was logged out")
		}
		for _, tt := range []struct {
			name  string
			token string
			valid bool
		}{
			{"password grant", toks.password.AccessToken, false},
			{"password grant on another user's application", toks.passwordOnOther.AccessToken, false},
			{"client_credentials", toks.app.AccessToken, true},
		} {
			if got := env.valid(t, tt.token); got != tt.valid {
				t.Errorf("%s token: valid %v, want %v", tt.name, got, tt.valid)
			}
		}
		if env.refreshes(t, toks.key, toks.password.RefreshToken) {
			t.Error("the password grant's refresh token still works")
		}
		if p := env.browser().logIn("alice", "old-password"); p.status != http.StatusUnauthorized {
			t.Errorf("log in with the old password: %d", p.status)
		}
		if p := env.browser().logIn("alice", "brand-new-pass"); p.status != http.StatusSeeOther {
			t.Errorf("log in with the new password: %d", p.status)
		}
		if got := auditEvents(t, env, portal.AuditPasswordChanged); len(got) != 1 || got[0].Username != "alice" {
			t.Errorf("audit: %+v", got)
		}
	})
}

// TestChangePasswordKeepingSessions: with the box unticked, a new password
// leaves the sessions and the password grant's tokens as they were.
func TestChangePasswordKeepingSessions(t *testing.T) {
	env := newStore(t)
	laptop := env.browser()
	laptop.signUp("alice", "old-password")
	phone := env.browser()
	phone.logIn("alice", "old-password")
	toks := env.tokensOf(t, "alice", "old-password")
	p := laptop.submit("/store/account/password", url.Values{"current_password": {"old-password"}, "password": {"brand-new-pass"},
		"password_confirm": {"brand-new-pass"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("change: %d\n%s", p.status, p.body)
	}
	mustContain(t, laptop.get("/store/account").body, "Password changed. Your other sessions and the tokens of the password grant are kept.")
	if !phone.loggedIn() || !laptop.loggedIn() {
		t.Error("a session ended")
	}
	if !env.valid(t, toks.password.AccessToken) || !env.refreshes(t, toks.key, toks.password.RefreshToken) {
		t.Error("the password grant's token ended")
	}
	if !env.passwordIs(t, "alice", "brand-new-pass") {
		t.Error("the password did not change")
	}
	if got := auditEvents(t, env, portal.AuditPasswordChanged); len(got) != 1 || !strings.Contains(got[0].Detail, "kept") {
		t.Errorf("audit: %+v", got)
	}
	// A refused form keeps the box as it was.
	p = laptop.submit("/store/account/password", url.Values{"current_password": {"brand-new-pass"}, "password": {"short"}, "password_confirm": {"short"}})
	mustContain(t, p.body, `<input type="checkbox" name="end_others" value="true">`)
}

func TestChangePasswordLockout(t *testing.T) {
	env := newStore(t)
	thief := env.browser()
	thief.signUp("alice", "alice-password")
	wrong := url.Values{"current_password": {"guess-guess"}, "password": {"thief-password"}, "password_confirm": {"thief-password"}}
	for i := range 5 {
		if p := thief.submit("/store/account/password", wrong); p.status != http.StatusUnprocessableEntity {
			t.Fatalf("guess %d: %d", i+1, p.status)
		}
	}
	right := url.Values{"current_password": {"alice-password"}, "password": {"thief-password"}, "password_confirm": {"thief-password"}}
	p := thief.submit("/store/account/password", right)
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Fatalf("after five wrong passwords: %d, Retry-After %q", p.status, p.header.Get("Retry-After"))
	}
	mustContain(t, p.body, "Too many wrong passwords. Wait 15 minutes")
	if !env.passwordIs(t, "alice", "alice-password") {
		t.Error("the password changed during the lockout")
	}
	// The guesses count against the username at the log-in page too.
	if p := env.browser().logIn("alice", "alice-password"); p.status != http.StatusTooManyRequests {
		t.Errorf("log in during the lockout: %d", p.status)
	}
	if p := thief.submit("/store/account/email", url.Values{"email": {"thief@example.com"}, "current_password": {"alice-password"}}); p.status != http.StatusTooManyRequests {
		t.Errorf("email change during the lockout: %d", p.status)
	}
}

func TestChangeEmail(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	b.signUp("alice", "alice-password")
	email := func() string {
		u, err := env.db.UserAccount(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		return u.Email
	}
	if p := b.post("/store/account/email", url.Values{"email": {"x@example.com"}, "current_password": {"alice-password"}}); p.status != http.StatusForbidden {
		t.Errorf("forged form: %d", p.status)
	}
	for _, tt := range []struct {
		name, email, password, message string
	}{
		{"not an address", "alice-at-example", "alice-password", "Enter an email address"},
		{"no address", "", "alice-password", "Fill this in."},
		{"wrong password", "alice@new.example", "guess-guess", "This is not your current password."},
	} {
		p := b.submit("/store/account/email", url.Values{"email": {tt.email}, "current_password": {tt.password}})
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d", tt.name, p.status)
		}
		mustContain(t, p.body, tt.message)
		mustNotContain(t, p.body, tt.password)
		if tt.email != "" {
			mustContain(t, p.body, `value="`+tt.email+`"`)
		}
	}
	if got := email(); got != "alice@example.com" {
		t.Fatalf("email changed by a refused form: %q", got)
	}
	p := b.submit("/store/account/email", url.Values{"email": {" alice@new.example "}, "current_password": {"alice-password"}})
	if p.status != http.StatusSeeOther || p.location != "/store/account" {
		t.Fatalf("change: %d to %q", p.status, p.location)
	}
	mustContain(t, b.get("/store/account").body, "Email changed to alice@new.example.", `data-testid="account-email">alice@new.example<`)
	if got := email(); got != "alice@new.example" {
		t.Errorf("email %q", got)
	}
	if got := auditEvents(t, env, portal.AuditEmailChanged); len(got) != 1 ||
		got[0].Detail != `at My account, from "alice@example.com" to "alice@new.example"` {
		t.Errorf("audit: %+v", got)
	}
}
