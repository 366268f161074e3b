package handlers_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// admin is a browser logged in as root, of the admin role.
func (e *storeEnv) admin() *browser {
	e.t.Helper()
	fixture.User(e.t, e.db, "root", "root-password", "admin")
	b := e.browser()
	if p := b.logIn("root", "root-password"); p.status != http.StatusSeeOther {
		e.t.Fatalf("log in root: %d", p.status)
	}
	return b
}

func TestUsersPageIsForAdminsOnly(t *testing.T) {
	env := newStore(t)
	root := env.admin()
	alice := env.browser()
	alice.signUp("alice", "alice-password")
	anon := env.browser()

	mustContain(t, root.get("/store").body, `href="/store/admin/users">Users<`)
	mustNotContain(t, alice.get("/store").body, `href="/store/admin/users"`)
	if p := anon.get("/store/admin/users"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/store/login") {
		t.Errorf("anonymous: %d to %q", p.status, p.location)
	}
	for _, path := range []string{"/store/admin/users", "/store/admin/users/disable?username=root"} {
		if p := alice.get(path); p.status != http.StatusForbidden {
			t.Errorf("GET %s as a subscriber: %d", path, p.status)
		}
	}
	for _, path := range []string{"/store/admin/users/disable", "/store/admin/users/enable", "/store/admin/users/unlock"} {
		if p := alice.submit(path, url.Values{"username": {"root"}, "ref": {strings.Repeat("0", 32)}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s as a subscriber: %d", path, p.status)
		}
	}
	if u, err := env.db.UserAccount(context.Background(), "root"); err != nil || u.Disabled {
		t.Errorf("root: %+v, %v", u, err)
	}
}

var flashText = regexp.MustCompile(`<p class="flash" role="status">([^<]*)</p>`)

func TestDisableAndEnableUser(t *testing.T) {
	env := newStore(t)
	root := env.admin()
	laptop := env.browser()
	laptop.signUp("alice", "alice-password")
	laptop.addApplication("Shop")
	toks := env.tokensOf(t, "alice", "alice-password")
	env.browser().signUp("bob", "bob-password")
	bobs, oerr := env.oauth.Token(context.Background(), &oauth.TokenRequest{GrantType: oauth.GrantPassword,
		ClientID: toks.key.ConsumerKey, ClientSecret: toks.key.Secret, Username: "bob", Password: "bob-password"})
	if oerr != nil {
		t.Fatal(oerr)
	}

	p := root.get("/store/admin/users")
	if p.status != http.StatusOK {
		t.Fatalf("Users: %d", p.status)
	}
	mustContain(t, p.body, `data-testid="user-alice"`, "alice@example.com", `data-testid="user-root"`, "No lockout under way.")
	mustContain(t, p.body, `href="/store/admin/users/disable?username=alice"`)
	mustNotContain(t, p.body, `disable?username=root`)
	if p := root.get("/store/admin/users?q=ALI"); !strings.Contains(p.body, `user-alice`) || strings.Contains(p.body, `user-bob`) {
		t.Error("the filter does not find alice alone")
	}
	// A search no name can match (a NUL, which PostgreSQL's text cannot
	// hold; invalid UTF-8) finds no one, and is no error.
	for _, q := range []string{"al%00i", "%ff"} {
		if p := root.get("/store/admin/users?q=" + q); p.status != http.StatusOK || !strings.Contains(p.body, "No user matches") {
			t.Errorf("q=%s: %d", q, p.status)
		}
	}

	p = root.get("/store/admin/users/disable?username=alice")
	mustContain(t, p.body, "Disable alice?", "Shop", "App of alice", "Disable alice</button>", "Cancel")
	if p := root.post("/store/admin/users/disable", url.Values{"username": {"alice"}}); p.status != http.StatusForbidden {
		t.Errorf("forged form: %d", p.status)
	}
	if !laptop.loggedIn() {
		t.Fatal("a forged form disabled alice")
	}
	for _, self := range []string{"root", "ROOT"} {
		if p := root.submit("/store/admin/users/disable", url.Values{"username": {self}}); p.status != http.StatusConflict {
			t.Errorf("disable oneself as %s: %d", self, p.status)
		}
	}
	if p := root.get("/store/admin/users/disable?username=root"); p.status != http.StatusConflict {
		t.Errorf("ask to disable oneself: %d", p.status)
	}
	if p := root.submit("/store/admin/users/disable", url.Values{"username": {"nobody"}}); p.status != http.StatusNotFound {
		t.Errorf("disable nobody: %d", p.status)
	}

	p = root.submit("/store/admin/users/disable", url.Values{"username": {"alice"}, "q": {"ali"}})
	if p.status != http.StatusSeeOther || p.location != "/store/admin/users?q=ali" {
		t.Fatalf("disable: %d to %q", p.status, p.location)
	}
	p = root.get(p.location)
	if m := flashText.FindStringSubmatch(p.body); m == nil || !regexp.MustCompile(`^alice is disabled: 1 session logged out, \d+ tokens revoked\.$`).MatchString(m[1]) {
		t.Errorf("flash: %v", m)
	}
	mustContain(t, p.body, "Disabled since", "Enable</button>")

	if laptop.loggedIn() {
		t.Error("alice's session survived")
	}
	for _, tt := range []struct{ name, token string }{
		{"alice's password grant", toks.password.AccessToken},
		{"her application's token", toks.app.AccessToken},
		{"her password grant on another's application", toks.passwordOnOther.AccessToken},
		{"bob's token on her application", bobs.AccessToken},
	} {
		if env.valid(t, tt.token) {
			t.Errorf("%s still works", tt.name)
		}
	}
	if env.refreshes(t, toks.key, toks.password.RefreshToken) {
		t.Error("her refresh token works")
	}
	p = env.browser().logIn("alice", "alice-password")
	if p.status != http.StatusForbidden {
		t.Errorf("log in while disabled: %d", p.status)
	}
	mustContain(t, p.body, "This account is disabled.")
	if p := env.browser().logIn("alice", "wrong-password"); p.status != http.StatusUnauthorized || strings.Contains(p.body, "disabled") {
		t.Errorf("a wrong password tells of the account: %d", p.status)
	}
	grant := func(form *oauth.TokenRequest) *oauth.Error {
		form.ClientID, form.ClientSecret = toks.key.ConsumerKey, toks.key.Secret
		_, oerr := env.oauth.Token(context.Background(), form)
		return oerr
	}
	if oerr := grant(&oauth.TokenRequest{GrantType: oauth.GrantClientCredentials}); oerr == nil || oerr.Code != oauth.ErrCodeInvalidClient {
		t.Errorf("her key at /token: %v", oerr)
	}
	other, _ := fixture.App(t, env.db, fixture.User(t, env.db, "carol", "carol-password"), "Carol's")
	_, oerr = env.oauth.Token(context.Background(), &oauth.TokenRequest{GrantType: oauth.GrantPassword, ClientID: other.ConsumerKey,
		ClientSecret: other.Secret, Username: "alice", Password: "alice-password"})
	if oerr == nil || oerr.Code != oauth.ErrCodeInvalidGrant || oerr.Description != "the account is disabled" {
		t.Errorf("her password grant: %v", oerr)
	}

	if p := root.post("/store/admin/users/enable", url.Values{"username": {"alice"}}); p.status != http.StatusForbidden {
		t.Errorf("forged enable: %d", p.status)
	}
	p = root.submit("/store/admin/users/enable", url.Values{"username": {"alice"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("enable: %d", p.status)
	}
	mustContain(t, root.get("/store/admin/users").body, "alice is enabled: they can log in again.")
	if p := env.browser().logIn("alice", "alice-password"); p.status != http.StatusSeeOther {
		t.Errorf("log in once enabled: %d", p.status)
	}
	if env.valid(t, toks.app.AccessToken) {
		t.Error("a token ended by disabling works again")
	}
	if oerr := grant(&oauth.TokenRequest{GrantType: oauth.GrantClientCredentials}); oerr != nil {
		t.Errorf("her key once enabled: %v", oerr)
	}
	for event, want := range map[string]int{portal.AuditUserDisabled: 1, portal.AuditUserEnabled: 1} {
		if got := auditEvents(t, env, event); len(got) != want || got[0].Username != "alice" {
			t.Errorf("%s: %+v", event, got)
		}
	}
}

var unlockRef = regexp.MustCompile(`name="ref" value="([0-9a-f]{32})"`)

func TestUnlock(t *testing.T) {
	env := newStore(t)
	root := env.admin()
	env.browser().signUp("carol", "carol-password")
	guesser := env.browser()
	for range 5 {
		guesser.logIn("carol", "guess-guess")
		guesser.logIn("Tr0ub4dor&3", "guess-guess") // a password typed as a username
	}
	if p := env.browser().logIn("carol", "carol-password"); p.status != http.StatusTooManyRequests {
		t.Fatalf("carol locked out: %d", p.status)
	}
	p := root.get("/store/admin/users")
	mustContain(t, p.body, "locked out until", "Log-ins of the username", "(unknown user ")
	mustNotContain(t, p.body, "Tr0ub4dor", "No lockout under way.")
	if n := strings.Count(p.body, `data-testid="lockout"`); n != 2 {
		t.Errorf("%d lockouts listed, want 2", n)
	}
	row := p.body[strings.Index(p.body, `data-testid="user-carol"`):]
	row = row[:strings.Index(row, "</tr>")]
	ref := unlockRef.FindStringSubmatch(row)
	if ref == nil {
		t.Fatalf("no Unlock in carol's row: %s", row)
	}
	// Why carol is locked: the count, and the failures in the audit trail.
	mustContain(t, row, "after 5 failed log-ins")
	why := regexp.MustCompile(`href="(/store/admin/audit\?[^"]+)">See the failures`).FindStringSubmatch(row)
	if why == nil {
		t.Fatalf("no link to the failures in carol's row: %s", row)
	}
	trail := root.get(html.UnescapeString(why[1]))
	if n := strings.Count(trail.body, "<code class=\"event\">login_<wbr>failed</code>"); trail.status != http.StatusOK || n != 5 {
		t.Errorf("the failures: %d, %d failed log-ins listed, want 5", trail.status, n)
	}
	mustNotContain(t, trail.body, "<td>root</td>")
	if p := root.post("/store/admin/users/unlock", url.Values{"ref": {ref[1]}}); p.status != http.StatusForbidden {
		t.Errorf("forged form: %d", p.status)
	}
	if p := root.submit("/store/admin/users/unlock", url.Values{"ref": {strings.Repeat("ab", 16)}}); p.status != http.StatusNotFound {
		t.Errorf("an unknown lockout: %d", p.status)
	}
	if p := root.submit("/store/admin/users/unlock", url.Values{"ref": {ref[1]}}); p.status != http.StatusSeeOther {
		t.Fatalf("unlock: %d", p.status)
	}
	p = root.get("/store/admin/users")
	mustContain(t, p.body, "Unlocked: log-ins of the username carol.")
	if n := strings.Count(p.body, `data-testid="lockout"`); n != 1 {
		t.Errorf("%d lockouts left, want the unknown name's", n)
	}
	if p := env.browser().logIn("carol", "carol-password"); p.status != http.StatusSeeOther {
		t.Errorf("carol after the unlock: %d", p.status)
	}
	got := auditEvents(t, env, portal.AuditLockoutCleared)
	if len(got) != 1 || got[0].Username != "carol" || !strings.Contains(got[0].Detail, "after 5 failures") {
		t.Errorf("audit: %+v", got)
	}
	// The unknown name's lockout is unlocked by its masked row.
	if p := root.submit("/store/admin/users/unlock", url.Values{"ref": {unlockRef.FindStringSubmatch(root.get("/store/admin/users").body)[1]}}); p.status != http.StatusSeeOther {
		t.Errorf("unlock the unknown name: %d", p.status)
	}
	for _, e := range auditEvents(t, env, portal.AuditLockoutCleared) {
		if strings.Contains(e.Detail, "Tr0ub4dor") || strings.Contains(e.Username, "Tr0ub4dor") {
			t.Errorf("the typed name is in the audit trail: %+v", e)
		}
	}
}

func TestNoMailForADisabledAccount(t *testing.T) {
	env, smtp := newMailingStore(t)
	root := env.admin()
	env.browser().signUp("alice", "alice-password")
	env.browser().signUp("bob", "bob-password")
	root.submit("/store/admin/users/disable", url.Values{"username": {"alice"}})
	b := env.browser()
	b.askReset("alice")
	b.askReset("bob")
	if m := smtp.Next(t, mailWait); m.To[0] != "bob@example.com" {
		t.Errorf("a link went to %v", m.To)
	}
	var said bool
	for _, e := range auditEvents(t, env, portal.AuditPasswordResetAsked) {
		said = said || (e.Username == "alice" && e.Detail == "the account is disabled; nothing sent")
	}
	if !said {
		t.Error("the audit trail does not say why alice got nothing")
	}
}
