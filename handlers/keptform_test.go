package handlers_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
)

// postFrom posts a form as a page of site would (Sec-Fetch-Site).
func (b *browser) postFrom(site, path string, form url.Values) page {
	b.env.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.env.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", site)
	return b.do(req)
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)

// hiddenFields are a page's last form's hidden fields, as a browser sends
// them.
func hiddenFields(body string) url.Values {
	forms := strings.Split(body, "<form")
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(forms[len(forms)-1], -1) {
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return form
}

// TestFormSentAfterLoggingOutIsKept: a form sent from a page left open
// after logging out in another tab gets the log-in page, which carries what
// was typed (no password), and, once logged in, a page to send it again;
// a forged form from another site is still just refused.
func TestFormSentAfterLoggingOutIsKept(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	b.signUp("alice", "alice-password")
	stale := b.token() // the Add application page, left open
	if p := b.submit("/store/logout", nil); p.status != http.StatusSeeOther {
		t.Fatalf("log out: %d", p.status)
	}
	typed := url.Values{"csrf_token": {stale}, "name": {"Kept <App>"}, "description": {"line one\nline two"},
		"tier": {"Gold"}, "callback_url": {"https://app.example.com/cb"}, "current_password": {"never-kept"}}

	if p := b.postFrom("cross-site", "/store/applications", typed); p.status != http.StatusForbidden ||
		strings.Contains(p.body, "Kept") || !strings.Contains(p.body, "This form has expired") {
		t.Errorf("from another site: %d\n%s", p.status, p.body)
	}

	p := b.postFrom("same-origin", "/store/applications", typed)
	if p.status != http.StatusForbidden {
		t.Fatalf("the stale form: %d", p.status)
	}
	mustContain(t, p.body, "You are no longer logged in", "what you typed is kept", "<h1>Log in</h1>")
	mustNotContain(t, p.body, "never-kept", stale)
	login := hiddenFields(p.body)
	if login.Get("kept_action") != "/store/applications" || login.Get("kept.name") != "Kept <App>" ||
		login.Get("kept.description") != "line one\nline two" || login.Get("kept.tier") != "Gold" {
		t.Fatalf("the log-in form carries %v", login)
	}

	// A wrong password keeps the form still.
	login.Set("username", "alice")
	login.Set("password", "wrong-password")
	p = b.post("/store/login", login)
	if p.status != http.StatusUnauthorized || hiddenFields(p.body).Get("kept.name") != "Kept <App>" {
		t.Fatalf("a wrong password: %d, the form carries %v", p.status, hiddenFields(p.body))
	}
	login = hiddenFields(p.body)
	login.Set("username", "alice")
	login.Set("password", "alice-password")
	p = b.post("/store/login", login)
	if p.status != http.StatusOK {
		t.Fatalf("log in: %d", p.status)
	}
	mustContain(t, p.body, "Send your form again", `action="/store/applications"`, "Kept &lt;App&gt;", "Send again")
	resend := hiddenFields(p.body)
	if resend.Get("csrf_token") == stale || resend.Get("name") != "Kept <App>" || resend.Has("current_password") {
		t.Fatalf("the form to send again: %v", resend)
	}
	if p := b.post("/store/applications", resend); p.status != http.StatusSeeOther {
		t.Fatalf("send again: %d\n%s", p.status, p.body)
	}
	mustContain(t, b.get("/store/applications").body, "Kept &lt;App&gt;")

	t.Run("not for the log-in and sign-up forms", func(t *testing.T) {
		anon := env.browser()
		for _, path := range []string{"/store/login", "/store/signup", "/store/logout", "/store/password/forgot", "/store//applications"} {
			p := anon.postFrom("same-origin", path, url.Values{"csrf_token": {"stale"}, "username": {"x"}})
			if strings.Contains(p.body, "kept_action") {
				t.Errorf("%s: the form is kept (%d)", path, p.status)
			}
		}
	})

	t.Run("a log-in does not send anywhere but a store form", func(t *testing.T) {
		other := env.browser()
		form := url.Values{"csrf_token": {other.token()}, "username": {"alice"}, "password": {"alice-password"},
			"kept_action": {"https://evil.example/x"}, "kept.name": {"x"}}
		if p := other.post("/store/login", form); p.status != http.StatusSeeOther {
			t.Errorf("log in with a foreign kept_action: %d", p.status)
		}
	})
}

// TestTenantFormSentAfterLoggingOutIsKept: at a tenant's store the kept
// form goes through the tenant's log-in and is sent again to the tenant's
// store, where its path was.
func TestTenantFormSentAfterLoggingOutIsKept(t *testing.T) {
	env := newStore(t)
	fixture.Tenant(t, env.db, "acme.com")
	const acme = "/t/acme.com/store"
	b := env.browser()
	if p := b.submit(acme+"/signup", url.Values{"username": {"bob"}, "password": {"bob-password"},
		"password_confirm": {"bob-password"}, "email": {"bob@example.com"}}); p.status != http.StatusSeeOther || p.location != acme {
		t.Fatalf("sign up at %s: %d to %q", acme, p.status, p.location)
	}
	stale := b.token()
	if p := b.submit(acme+"/logout", nil); p.status != http.StatusSeeOther || p.location != acme {
		t.Fatalf("log out: %d to %q", p.status, p.location)
	}
	p := b.postFrom("same-origin", acme+"/applications", url.Values{"csrf_token": {stale}, "name": {"Acme App"}, "tier": {"Gold"}})
	if p.status != http.StatusForbidden {
		t.Fatalf("the stale form: %d", p.status)
	}
	mustContain(t, p.body, `action="`+acme+`/login"`)
	login := hiddenFields(p.body)
	if login.Get("kept_action") != "/store/applications" || login.Get("kept.name") != "Acme App" {
		t.Fatalf("the log-in form carries %v", login)
	}
	login.Set("username", "bob")
	login.Set("password", "bob-password")
	if p = b.post(acme+"/login", login); p.status != http.StatusOK {
		t.Fatalf("log in: %d", p.status)
	}
	mustContain(t, p.body, "Send your form again", `action="`+acme+`/applications"`, "Acme App")
	if p := b.post(acme+"/applications", hiddenFields(p.body)); p.status != http.StatusSeeOther || p.location != acme+"/applications" {
		t.Fatalf("send again: %d to %q", p.status, p.location)
	}
	mustContain(t, b.get(acme+"/applications").body, "Acme App")
}
