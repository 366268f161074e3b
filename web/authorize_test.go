package web_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/web"
	"golang.org/x/oauth2"
)

const consentCallback = "https://client.example.com/cb"

// authzEnv is the store and the API application over HTTPS on one database,
// as the binary serves them on two ports, with alice's application
// "ConsentApp" whose key allows the code, refresh and implicit grants.
type authzEnv struct {
	db         db.Store
	store, api *httptest.Server
	key        fixture.Key
}

func newAuthzEnv(t *testing.T) *authzEnv { t.Helper(); return newAuthzEnvWith(t, web.Config{}) }

// newAuthzEnvWith is newAuthzEnv with the given configuration; without
// public URLs, the httptest servers' are the store's and the API's.
func newAuthzEnvWith(t *testing.T, cfg web.Config) *authzEnv {
	t.Helper()
	d, _ := fixture.Docs(t)
	alice, err := d.UserAccount(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := fixture.AppWithCallback(t, d, alice, "ConsentApp", consentCallback,
		oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantImplicit)
	h := handlers.New(oauth.NewServer(d, oauth.Validity{}, nil), d)
	srv := web.New(cfg, h)
	e := &authzEnv{db: d, key: key, store: httptest.NewTLSServer(srv.Store()), api: httptest.NewTLSServer(srv.API())}
	t.Cleanup(e.store.Close)
	t.Cleanup(e.api.Close)
	if cfg.StorePublicURL == "" {
		h.SetURLs(e.store.URL, e.api.URL)
	}
	return e
}

// config is the client application's x/oauth2 configuration.
func (e *authzEnv) config(scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: e.key.ConsumerKey, ClientSecret: e.key.Secret, RedirectURL: consentCallback,
		Scopes: scopes, Endpoint: oauth2.Endpoint{AuthURL: e.api.URL + "/authorize", TokenURL: e.api.URL + "/token",
			AuthStyle: oauth2.AuthStyleInHeader}}
}

// userAgent is a browser: a cookie jar shared by both ports (cookies ignore
// ports) that follows redirects between apistore's pages but stops at the
// client's callback, which it reports.
type userAgent struct {
	t      *testing.T
	client *http.Client
}

// resp is a page or the redirect to the callback.
type resp struct {
	status   int
	url      *url.URL // the page's address, after redirects
	location string   // where a redirect to the callback pointed
	body     string
	header   http.Header
}

func (e *authzEnv) userAgent(t *testing.T) *userAgent {
	jar, _ := cookiejar.New(nil)
	c := *e.api.Client()
	c.Jar = jar
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), consentCallback) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &userAgent{t: t, client: &c}
}

func (u *userAgent) do(req *http.Request) resp {
	u.t.Helper()
	r, err := u.client.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, url: r.Request.URL, location: r.Header.Get("Location"), body: string(body), header: r.Header}
}

func (u *userAgent) get(target string) resp {
	u.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	return u.do(req)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)

// submit posts the page's first form with its hidden fields and extra, as
// a browser does when the user presses a button.
func (u *userAgent) submit(page resp, extra url.Values) resp {
	u.t.Helper()
	action := regexp.MustCompile(`<form[^>]* method="post" action="([^"]+)"`).FindAllStringSubmatch(page.body, -1)
	if len(action) == 0 {
		u.t.Fatalf("no form on %s:\n%s", page.url, page.body)
	}
	// The first form of a page is the layout's Log out when logged in.
	target := action[len(action)-1][1]
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page.body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	for k, v := range extra {
		form[k] = v
	}
	to, _ := page.url.Parse(html.UnescapeString(target))
	req, _ := http.NewRequest(http.MethodPost, to.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

// logIn fills in the log-in page the user was sent to.
func (u *userAgent) logIn(page resp, username, password string) resp {
	u.t.Helper()
	if !strings.HasSuffix(page.url.Path, "/store/login") {
		u.t.Fatalf("expected the log-in page, got %s (%d)", page.url, page.status)
	}
	return u.submit(page, url.Values{"username": {username}, "password": {password}})
}

// callback checks a redirect to the client and returns its query (or
// fragment, for the implicit grant).
func callback(t *testing.T, r resp, fragment bool) url.Values {
	t.Helper()
	if r.status != http.StatusFound || !strings.HasPrefix(r.location, consentCallback) {
		t.Fatalf("expected a 302 to the callback, got %d to %q\n%s", r.status, r.location, r.body)
	}
	to, _ := url.Parse(r.location)
	raw := to.RawQuery
	if fragment {
		raw = to.Fragment
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAuthorizationCodeFlowWithPKCE(t *testing.T) {
	e := newAuthzEnv(t)
	cfg := e.config("read", "update")
	ua := e.userAgent(t)
	verifier := oauth2.GenerateVerifier()

	consent := ua.logIn(ua.get(cfg.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier))), "alice", "alice-password")
	if consent.status != http.StatusOK || consent.url.Host != strings.TrimPrefix(e.api.URL, "https://") {
		t.Fatalf("after log-in: %d at %s", consent.status, consent.url)
	}
	for _, want := range []string{"ConsentApp", `data-testid="app-owner">alice<`, "<code>read</code>", "the read scope",
		"Remember my decision", ">Approve<", ">Deny<"} {
		if !strings.Contains(consent.body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(consent.body, "<code>update</code>") {
		t.Error("the consent page offers a scope alice's roles do not allow")
	}
	h := consent.header
	if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" ||
		h.Get("Cache-Control") != "no-store" {
		t.Errorf("consent page headers %v", h)
	}

	got := callback(t, ua.submit(consent, url.Values{"decision": {"approve"}}), false)
	if got.Get("state") != "st-1" || got.Get("code") == "" {
		t.Fatalf("callback %v", got)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.api.Client())
	tok, err := cfg.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("scope") != "read" || tok.TokenType != "Bearer" {
		t.Fatalf("token %+v scope %v", tok, tok.Extra("scope"))
	}

	// Refresh: x/oauth2 refreshes a token it believes expired.
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, &stale).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v %+v", err, fresh)
	}

	// Revoke the refresh token: the whole chain ends.
	r, body := postForm(t, e.api, "/revoke", "token="+fresh.RefreshToken+"&token_type_hint=refresh_token", basic(e.key.ConsumerKey, e.key.Secret))
	if r.StatusCode != http.StatusOK || body != "" || r.Header.Get("RevokedRefreshToken") != fresh.RefreshToken {
		t.Fatalf("revoke: %d %q %v", r.StatusCode, body, r.Header)
	}
	for _, access := range []string{tok.AccessToken, fresh.AccessToken} {
		_, body := postForm(t, e.api, "/introspect", "token="+access, basic(e.key.ConsumerKey, e.key.Secret))
		if strings.TrimSpace(body) != `{"active":false}` {
			t.Fatalf("revoked chain still active: %s", body)
		}
	}

	// The code again: invalid_grant.
	if _, err := cfg.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(verifier)); err == nil ||
		!strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("replayed code: %v", err)
	}
}

// postForm posts a client-authenticated form to the HTTPS API application.
func postForm(t *testing.T, srv *httptest.Server, path, body, auth string) (*http.Response, string) {
	t.Helper()
	return sendForm(t, srv.Client(), srv.URL+path, body, map[string]string{"Authorization": auth})
}

// loggedIn is a user agent with alice's session.
func (e *authzEnv) loggedIn(t *testing.T) *userAgent {
	t.Helper()
	ua := e.userAgent(t)
	if p := ua.logIn(ua.get(e.store.URL+"/store/login"), "alice", "alice-password"); p.status != http.StatusOK {
		t.Fatalf("log-in: %d", p.status)
	}
	return ua
}

func TestAuthorizeErrors(t *testing.T) {
	e := newAuthzEnv(t)
	ua := e.loggedIn(t)
	key := e.key.ConsumerKey
	esc := url.QueryEscape
	pages := []struct{ name, query, says string }{
		{"unknown client_id", "response_type=code&client_id=nobody&redirect_uri=" + esc(consentCallback), "No application has the consumer key"},
		{"mismatched redirect_uri", "response_type=code&client_id=" + key + "&redirect_uri=" + esc("https://evil.example/cb"), "the redirect_uri does not match"},
		{"redirect_uri with another path", "response_type=code&client_id=" + key + "&redirect_uri=" + esc(consentCallback+"/x"), "the redirect_uri does not match"},
		{"no client_id", "response_type=code", "the client_id parameter is missing"},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			for _, agent := range []*userAgent{ua, e.userAgent(t)} { // logged in, and anonymous
				p := agent.get(e.api.URL + "/authorize?" + tt.query + "&state=s")
				if p.status != http.StatusBadRequest || p.location != "" || !strings.Contains(strings.ToLower(p.body), strings.ToLower(tt.says)) ||
					!strings.Contains(p.header.Get("Content-Type"), "text/html") || p.url.Path != "/authorize" {
					t.Fatalf("%d at %s (location %q):\n%s", p.status, p.url, p.location, p.body)
				}
			}
		})
	}
	redirects := []struct{ name, query, code string }{
		{"unsupported response_type", "response_type=id_token", oauth.ErrCodeUnsupportedResponse},
		{"missing response_type", "", oauth.ErrCodeInvalidRequest},
		{"unknown PKCE method", "response_type=code&code_challenge=" + strings.Repeat("a", 43) + "&code_challenge_method=S1", oauth.ErrCodeInvalidRequest},
	}
	for _, tt := range redirects {
		t.Run(tt.name, func(t *testing.T) {
			// Only to a logged-in user (RFC 9700 §4.11.2): an anonymous
			// one is not sent to the callback, which anyone may choose by
			// registering an application, but to the log-in page first.
			anon := e.userAgent(t)
			login := anon.get(e.api.URL + "/authorize?client_id=" + key + "&state=s%20t&" + tt.query)
			if login.location != "" || login.url.Path != "/store/login" {
				t.Fatalf("anonymous: %d at %s, location %q", login.status, login.url, login.location)
			}
			got := callback(t, anon.logIn(login, "alice", "alice-password"), false)
			if got.Get("error") != tt.code || got.Get("error_description") == "" || got.Get("state") != "s t" {
				t.Fatalf("callback %v", got)
			}
		})
	}
	t.Run("grant not enabled", func(t *testing.T) {
		alice, _ := e.db.UserAccount(context.Background(), "alice")
		codeOnly, _ := fixture.AppWithCallback(t, e.db, alice, "CodeOnly", consentCallback, oauth.GrantAuthorizationCode)
		got := callback(t, ua.get(e.api.URL+"/authorize?response_type=token&client_id="+codeOnly.ConsumerKey+"&state=s"), true)
		if got.Get("error") != oauth.ErrCodeUnauthorizedClient || got.Get("state") != "s" {
			t.Fatalf("callback %v", got)
		}
	})
	t.Run("consent form without its form token", func(t *testing.T) {
		consent := ua.get(e.api.URL + "/authorize?response_type=code&client_id=" + key)
		p := ua.submit(consent, url.Values{"decision": {"approve"}, "csrf_token": {"forged"}})
		if p.status != http.StatusForbidden || p.location != "" || !strings.Contains(p.header.Get("Content-Type"), "text/html") {
			t.Fatalf("forged consent: %d %q", p.status, p.location)
		}
	})
	t.Run("consent form after the session ended", func(t *testing.T) {
		other := e.loggedIn(t)
		consent := other.get(e.api.URL + "/authorize?response_type=code&client_id=" + key)
		other.submit(other.get(e.store.URL+"/store"), nil) // the layout's Log out
		if p := other.submit(consent, url.Values{"decision": {"approve"}}); p.status != http.StatusForbidden || p.location != "" {
			t.Fatalf("consent after log-out: %d %q", p.status, p.location)
		}
	})
}

func TestConsentDecisions(t *testing.T) {
	e := newAuthzEnv(t)
	ua := e.loggedIn(t)
	key := e.key.ConsumerKey
	authorize := func(query string) resp {
		return ua.get(e.api.URL + "/authorize?client_id=" + key + "&" + query)
	}

	t.Run("deny", func(t *testing.T) {
		got := callback(t, ua.submit(authorize("response_type=code&state=d1"), url.Values{"decision": {"deny"}}), false)
		if got.Get("error") != oauth.ErrCodeAccessDenied || got.Get("state") != "d1" || got.Has("code") {
			t.Fatalf("deny: %v", got)
		}
	})
	t.Run("WSO2 example: scope PRODUCTION, redirect_uri given, code exchanged with Basic auth", func(t *testing.T) {
		consent := authorize("response_type=code&scope=PRODUCTION&redirect_uri=" + url.QueryEscape(consentCallback))
		if !strings.Contains(consent.body, "<code>default</code> — Basic access") {
			t.Errorf("the consent page does not explain the default scope:\n%s", consent.body)
		}
		got := callback(t, ua.submit(consent, url.Values{"decision": {"approve"}}), false)
		r, body := postForm(t, e.api, "/token", "grant_type=authorization_code&code="+got.Get("code")+"&redirect_uri="+url.QueryEscape(consentCallback),
			basic(key, e.key.Secret))
		if r.StatusCode != http.StatusOK || !strings.Contains(body, `"scope":"default"`) || !strings.Contains(body, `"refresh_token"`) {
			t.Fatalf("token: %d %s", r.StatusCode, body)
		}
	})
	t.Run("implicit", func(t *testing.T) {
		consent := authorize("response_type=token&scope=read&state=i1")
		if !strings.Contains(consent.body, "access token directly") {
			t.Error("the consent page does not say the token goes to the browser")
		}
		got := callback(t, ua.submit(consent, url.Values{"decision": {"approve"}}), true)
		if got.Get("access_token") == "" || got.Get("token_type") != "Bearer" || got.Get("expires_in") != "3600" ||
			got.Get("scope") != "read" || got.Get("state") != "i1" || got.Has("refresh_token") {
			t.Fatalf("implicit: %v", got)
		}
	})

	var remembered string
	t.Run("remember my decision", func(t *testing.T) {
		if p := authorize("response_type=code&scope=read"); p.status != http.StatusOK {
			t.Fatalf("without a remembered decision the consent page shows: %d", p.status)
		}
		got := callback(t, ua.submit(authorize("response_type=code&scope=read&state=r1"), url.Values{"decision": {"approve"}, "remember": {"on"}}), false)
		r, body := postForm(t, e.api, "/token", "grant_type=authorization_code&code="+got.Get("code"), basic(key, e.key.Secret))
		if r.StatusCode != http.StatusOK {
			t.Fatalf("token: %s", body)
		}
		remembered = body
		// The same scopes, or fewer, skip the page; so does the request
		// just answered, asked again (its state is answered, but there is
		// no page to answer twice).
		for _, q := range []string{"response_type=code&scope=read&state=r2", "response_type=code&state=r2", "response_type=code&scope=read&state=r1"} {
			want := strings.TrimPrefix(q[strings.LastIndex(q, "state="):], "state=")
			if got := callback(t, authorize(q), false); got.Get("code") == "" || got.Get("state") != want {
				t.Fatalf("remembered decision, %s: %v", q, got)
			}
		}
		// More scopes ask again.
		fixture.Scope(t, e.db, "write")
		if p := authorize("response_type=code&scope=read%20write"); p.status != http.StatusOK || !strings.Contains(p.body, "<code>write</code>") {
			t.Fatalf("a wider request skipped the consent page: %d %q", p.status, p.location)
		}
	})
	t.Run("authorized applications, revoke access", func(t *testing.T) {
		list := ua.get(e.store.URL + "/store/authorized")
		if list.status != http.StatusOK || !strings.Contains(list.body, "ConsentApp") || !strings.Contains(list.body, "Revoke access") {
			t.Fatalf("authorized applications: %d\n%s", list.status, list.body)
		}
		// Revoke access asks first (a page of its own), then revokes.
		link := regexp.MustCompile(`href="(/store/authorized/revoke\?app_id=\d+)"`).FindStringSubmatch(list.body)
		if link == nil {
			t.Fatalf("no Revoke access link:\n%s", list.body)
		}
		confirm := ua.get(e.store.URL + link[1])
		if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "Revoke access of ConsentApp?") {
			t.Fatalf("Revoke access confirmation: %d\n%s", confirm.status, confirm.body)
		}
		p := ua.submit(confirm, nil)
		if p.status != http.StatusOK || p.url.Path != "/store/authorized" || !strings.Contains(p.body, "Access revoked") ||
			strings.Contains(p.body, "ConsentApp") {
			t.Fatalf("after revoking: %d at %s\n%s", p.status, p.url, p.body)
		}
		access := regexp.MustCompile(`"access_token":"([^"]+)"`).FindStringSubmatch(remembered)[1]
		if _, body := postForm(t, e.api, "/introspect", "token="+access, basic(key, e.key.Secret)); strings.TrimSpace(body) != `{"active":false}` {
			t.Fatalf("a token outlived revoking access: %s", body)
		}
		if p := authorize("response_type=code&scope=read"); p.status != http.StatusOK || !strings.Contains(p.body, "Remember my decision") {
			t.Fatalf("the remembered decision outlived revoking access: %d %q", p.status, p.location)
		}
		// The trail names the application as every event does: its
		// consumer keys under Client, its name in the detail.
		events, err := e.db.AuditEvents(context.Background(), portal.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(events, func(ev portal.AuditEvent) bool { return ev.Event == portal.AuditConsentRevoked })
		if i < 0 || !strings.Contains(events[i].Client, key) || events[i].Username != "alice" || !strings.Contains(events[i].Detail, "ConsentApp") {
			t.Errorf("consent_revoked event: %+v", events)
		}
	})
	t.Run("anonymous: log in, then the consent page", func(t *testing.T) {
		anon := e.userAgent(t)
		login := anon.get(e.api.URL + "/authorize?response_type=code&client_id=" + key)
		if login.url.Host != strings.TrimPrefix(e.store.URL, "https://") {
			t.Fatalf("anonymous user sent to %s", login.url)
		}
		if p := anon.logIn(login, "alice", "alice-password"); p.url.Path != "/authorize" || !strings.Contains(p.body, "Approve") {
			t.Fatalf("after log-in: %s", p.url)
		}
		if p := anon.get(e.store.URL + "/store/authorized"); p.status != http.StatusOK {
			t.Fatalf("authorized applications: %d", p.status)
		}
	})
	t.Run("revoking an application never approved", func(t *testing.T) {
		list := ua.get(e.store.URL + "/store/authorized")
		tok := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(list.body)[1]
		req, _ := http.NewRequest(http.MethodPost, e.store.URL+"/store/authorized/revoke",
			strings.NewReader(url.Values{"csrf_token": {tok}, "app_id": {"999"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if p := ua.do(req); p.status != http.StatusNotFound {
			t.Fatalf("revoke unknown: %d", p.status)
		}
	})
}

func TestStoreLinksOnTheTokenPort(t *testing.T) {
	e := newAuthzEnv(t)
	client := *e.api.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r, err := client.Get(e.api.URL + "/store/static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("stylesheet on the token port: %d", r.StatusCode)
	}
	r, err = client.Post(e.api.URL+"/store/logout?x=1", "application/x-www-form-urlencoded", strings.NewReader("csrf_token=t"))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusTemporaryRedirect || r.Header.Get("Location") != e.store.URL+"/store/logout?x=1" {
		t.Fatalf("log-out on the token port: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
}

// approvedCode runs the consent page for the logged-in user agent and
// returns the code the callback got.
func approvedCode(t *testing.T, ua *userAgent, authURL string) string {
	t.Helper()
	code := callback(t, ua.submit(ua.get(authURL), url.Values{"decision": {"approve"}}), false).Get("code")
	if code == "" {
		t.Fatal("no code")
	}
	return code
}

func TestCodeExchangeErrorsOverHTTP(t *testing.T) {
	e := newAuthzEnv(t)
	ua := e.loggedIn(t)
	cfg := e.config("read")
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.api.Client())
	verifier := oauth2.GenerateVerifier()

	t.Run("a replayed code revokes the tokens issued from it", func(t *testing.T) {
		code := approvedCode(t, ua, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("replay: %v", err)
		}
		for _, token := range []string{tok.AccessToken, tok.RefreshToken} {
			if _, body := postForm(t, e.api, "/introspect", "token="+token, basic(e.key.ConsumerKey, e.key.Secret)); strings.TrimSpace(body) != `{"active":false}` {
				t.Fatalf("a token of a replayed code is still active: %s", body)
			}
		}
	})
	failures := []struct {
		name string
		auth []oauth2.AuthCodeOption
		exch []oauth2.AuthCodeOption
	}{
		{"wrong verifier", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}},
		{"missing verifier", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, nil},
		{"verifier without challenge (downgrade)", nil, []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			code := approvedCode(t, ua, cfg.AuthCodeURL("s-"+tt.name, tt.auth...)) // a state is one request's
			_, err := cfg.Exchange(ctx, code, tt.exch...)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != oauth.ErrCodeInvalidGrant || re.Response.StatusCode != http.StatusBadRequest {
				t.Fatalf("exchange: %v", err)
			}
		})
	}
}

// TestConsentFormAnsweredOnce: the consent page's form, posted again (a
// double click, Back to a kept page), and the answered request's address
// loaded again (Back after Approve) issue no second code and no second
// audit entry; a form of the session not yet answered still works, and a
// new request gets a new form.
func TestConsentFormAnsweredOnce(t *testing.T) {
	e := newAuthzEnv(t)
	ua := e.loggedIn(t)
	cfg := e.config("read")
	consentPage := ua.get(cfg.AuthCodeURL("state-1"))
	other := ua.get(cfg.AuthCodeURL("state-2")) // another tab, answered later
	if code := callback(t, ua.submit(consentPage, url.Values{"decision": {"approve"}}), false).Get("code"); code == "" {
		t.Fatal("no code")
	}
	for _, decision := range []string{"approve", "deny"} {
		again := ua.submit(consentPage, url.Values{"decision": {decision}})
		if again.status != http.StatusConflict || again.location != "" {
			t.Fatalf("%s again: %d to %q", decision, again.status, again.location)
		}
		if !strings.Contains(again.body, "You have answered this request already.") {
			t.Errorf("%s again: %s", decision, again.body)
		}
	}
	forged := ua.submit(other, url.Values{"decision": {"approve"}, "consent_id": {"not-a-form-of-this-session"}})
	if forged.status != http.StatusConflict {
		t.Errorf("a form id not of this session: %d", forged.status)
	}
	if v := callback(t, ua.submit(other, url.Values{"decision": {"deny"}}), false); v.Get("error") != "access_denied" || v.Get("state") != "state-2" {
		t.Errorf("the other tab's form: %v", v)
	}
	// The answered request's address loaded again (Back after Approve)
	// is not asked again; a new request is.
	if p := ua.get(cfg.AuthCodeURL("state-1")); p.status != http.StatusConflict || strings.Contains(p.body, "Approve") {
		t.Errorf("the answered request again: %d", p.status)
	}
	if code := approvedCode(t, ua, cfg.AuthCodeURL("state-3")); code == "" {
		t.Error("a new request was not asked")
	}
	events, err := e.db.AuditEvents(context.Background(), portal.AuditQuery{Event: portal.AuditConsentGranted})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Errorf("%d consent_granted events, want 2 (one per form approved)", len(events))
	}
}
