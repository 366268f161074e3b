package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var (
	scriptTag     = regexp.MustCompile(`(?i)<script[^>]*>`)
	eventHandler  = regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	javascriptURL = regexp.MustCompile(`(?i)(href|src|action)\s*=\s*"\s*javascript:`)
)

// checkPageHeaders checks an HTML page's protective headers and that it
// holds no inline script, which its CSP would block anyway.
func checkPageHeaders(t *testing.T, what string, r resp) {
	t.Helper()
	h := r.header
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("%s: Content-Type %q", what, h.Get("Content-Type"))
		return
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %s", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Errorf("%s: CSP %q allows unsafe sources", what, csp)
	}
	for name, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
		"X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}
	for _, tag := range scriptTag.FindAllString(r.body, -1) {
		if !strings.Contains(tag, " src=") {
			t.Errorf("%s: inline script %s", what, tag)
		}
	}
	if m := eventHandler.FindString(r.body); m != "" {
		t.Errorf("%s: inline event handler %s", what, m)
	}
	if m := javascriptURL.FindString(r.body); m != "" {
		t.Errorf("%s: javascript: URL %s", what, m)
	}
}

// TestEveryHTMLPageHasSecurityHeaders visits every kind of HTML page, on the
// store's port and on the token port (consent and error pages), anonymous
// and logged in.
func TestEveryHTMLPageHasSecurityHeaders(t *testing.T) {
	e := newAuthzEnv(t)
	ua := e.userAgent(t)
	for _, path := range []string{"/store", "/store/login", "/store/signup", "/store/apis/1", "/store/no-such-page"} {
		checkPageHeaders(t, "anonymous "+path, ua.get(e.store.URL+path))
	}
	ua.logIn(ua.get(e.store.URL+"/store/login"), "alice", "alice-password")
	if p := ua.get(e.store.URL + "/store/applications"); !strings.Contains(p.body, "My Applications") {
		t.Fatalf("not logged in: %d %s", p.status, p.url)
	}
	for _, path := range []string{"/store", "/store/applications", "/store/applications/new", "/store/subscriptions",
		"/store/authorized", "/store/applications/999/edit", "/store/publisher", "/store/admin/audit"} {
		checkPageHeaders(t, path, ua.get(e.store.URL+path))
	}
	consent := ua.get(e.config("read").AuthCodeURL("st"))
	if !strings.Contains(consent.body, "Approve") {
		t.Fatalf("no consent page: %d %s", consent.status, consent.body)
	}
	checkPageHeaders(t, "consent page", consent)
	checkPageHeaders(t, "authorize error page", ua.get(e.api.URL+"/authorize?response_type=code&client_id=unknown"))
}

// TestTokenEndpointsAreNotCachedNorCORS: /token, /revoke and /introspect
// answer no-store, success or error; no endpoint answers a cross-origin
// request or preflight with CORS headers (/authorize least of all: a page
// of another site must not read it).
func TestTokenEndpointsAreNotCachedNorCORS(t *testing.T) {
	e := newAuthzEnv(t)
	good, bad := basic(e.key.ConsumerKey, e.key.Secret), basic(e.key.ConsumerKey, "wrong")
	for _, tt := range []struct{ path, body, auth string }{
		{"/token", "grant_type=client_credentials", bad},
		{"/token", "grant_type=refresh_token&refresh_token=nope", good},
		{"/revoke", "token=nope", good},
		{"/revoke", "token=nope", bad},
		{"/introspect", "token=nope", good},
		{"/introspect", "token=nope", bad},
	} {
		r, body := sendForm(t, e.api.Client(), e.api.URL+tt.path, tt.body, map[string]string{
			"Authorization": tt.auth, "Origin": "https://evil.example"})
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
			t.Errorf("%s %s: %d %s, Cache-Control %q", tt.path, tt.body, r.StatusCode, body, r.Header.Get("Cache-Control"))
		}
		checkNoCORS(t, tt.path, r.Header)
	}
	for _, method := range []string{http.MethodGet, http.MethodOptions} {
		for _, path := range []string{"/authorize?response_type=code&client_id=" + e.key.ConsumerKey, "/token"} {
			req, _ := http.NewRequest(method, e.api.URL+path, nil)
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Access-Control-Request-Method", "POST")
			r, err := e.api.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			checkNoCORS(t, method+" "+path, r.Header)
		}
	}
}

func checkNoCORS(t *testing.T, what string, h http.Header) {
	t.Helper()
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			t.Errorf("%s: CORS header %s: %s", what, name, h.Get(name))
		}
	}
}

// TestStoreMayConnectToTheGateway: the store's scripts may connect to the
// gateway's HTTPS origin, which the API page's console calls, and to no
// other; the reference page alone lets inline styles in, for its renderer.
func TestStoreMayConnectToTheGateway(t *testing.T) {
	e := newAuthzEnv(t)
	ua := e.userAgent(t)
	csp := ua.get(e.store.URL + "/store/apis/1").header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' "+e.api.URL+";") {
		t.Errorf("CSP %q does not let scripts connect to the gateway at %s", csp, e.api.URL)
	}
	ref := ua.get(e.store.URL + "/store/apis/1/reference")
	if got := ref.header.Get("Content-Security-Policy"); got != strings.Replace(csp, "default-src 'self'; ", "default-src 'self'; style-src 'self' 'unsafe-inline'; ", 1) {
		t.Errorf("reference CSP %q, want the store's with inline styles only", got)
	}
}
