package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/web"
)

// rfcErrors are the error codes an OAuth endpoint may answer with.
var rfcErrors = []string{oauth.ErrCodeInvalidRequest, oauth.ErrCodeInvalidClient, oauth.ErrCodeInvalidGrant,
	oauth.ErrCodeUnauthorizedClient, oauth.ErrCodeUnsupportedGrantType, oauth.ErrCodeInvalidScope,
	oauth.ErrCodeTemporarilyUnavailable}

// hostile is text that must stay text: SQL, HTML and a header break.
const hostile = `x'); DROP TABLE applications; -- <script>alert(1)</script>` + "\r\nX-Injected: 1"

// TestMalformedRequests sends every endpoint broken requests. Each answer is
// the expected 4xx — with an RFC 6749 error on the OAuth endpoints, a page
// on the store — never a 5xx; no answer carries an injected header; and a
// refused request leaves the database as it was.
func TestMalformedRequests(t *testing.T) {
	e := newAuthzEnv(t)
	ua := e.userAgent(t)
	ua.logIn(ua.get(e.store.URL+"/store/login"), "alice", "alice-password")
	csrf := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(ua.get(e.store.URL + "/store").body)
	if csrf == nil {
		t.Fatal("no form token")
	}
	client := *ua.client // same cookies, but stops at every redirect
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	alice, err := e.db.UserAccount(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	every, _ := fixture.App(t, e.db, alice, "EveryGrant")
	good, bad := basic(every.ConsumerKey, every.Secret), basic(every.ConsumerKey, "wrong")
	form := "application/x-www-form-urlencoded"
	huge := "grant_type=client_credentials&scope=" + strings.Repeat("a", 1<<20)
	q := url.QueryEscape

	tests := []struct {
		name, method, path, contentType, body, auth string
		status                                      int    // wanted status; 0: any 4xx
		rfcError                                    string // wanted RFC 6749 error code; "": not an OAuth endpoint
	}{
		{"token huge body", "POST", "/token", form, huge, good, 413, "invalid_request"},
		{"token invalid UTF-8", "POST", "/token", form, "grant_type=password&username=%ff%fe&password=x", good, 400, "invalid_request"},
		{"token bad escape", "POST", "/token", form, "grant_type=password&username=%zz", good, 400, "invalid_request"},
		{"token repeated grant_type", "POST", "/token", form, "grant_type=password&grant_type=client_credentials", good, 400, "invalid_request"},
		{"token JSON body", "POST", "/token", "application/json", `{"grant_type":"client_credentials"}`, good, 400, "invalid_request"},
		{"token multipart body", "POST", "/token", "multipart/form-data; boundary=x", "--x--", good, 400, "invalid_request"},
		{"token no content type", "POST", "/token", "", "grant_type=client_credentials", good, 400, "invalid_request"},
		{"token GET", "GET", "/token?grant_type=client_credentials", "", "", good, 405, "invalid_request"},
		{"token SQL username", "POST", "/token", form, "grant_type=password&username=" + q(hostile) + "&password=" + q(hostile), good, 400, "invalid_grant"},
		{"token unknown grant", "POST", "/token", form, "grant_type=" + q(hostile), good, 400, "unsupported_grant_type"},
		{"token bad Basic header", "POST", "/token", form, "grant_type=client_credentials", "Basic !!" + url.PathEscape(hostile), 401, "invalid_client"},
		{"token Basic not UTF-8", "POST", "/token", form, "grant_type=client_credentials", basic("\xff\xfe", "x"), 401, "invalid_client"},
		{"token two Authorization headers", "POST", "/token", form, "grant_type=client_credentials", good + "\x00" + bad, 400, "invalid_request"},
		{"token SQL client_id", "POST", "/token", form, "grant_type=client_credentials&client_id=" + q(hostile) + "&client_secret=x", "", 401, "invalid_client"},
		{"token wrong secret", "POST", "/token", form, "grant_type=client_credentials", bad, 401, "invalid_client"},
		{"token SQL scope", "POST", "/token", form, "grant_type=client_credentials&scope=" + q(hostile), good, 200, ""},
		{"token too many scopes", "POST", "/token", form, "grant_type=client_credentials&scope=" + q(manyScopes(oauth.MaxScopes+1)), good, 400, "invalid_request"},
		{"token 8,000 scopes", "POST", "/token", form, "grant_type=client_credentials&scope=" + q(manyScopes(8000)), good, 400, "invalid_request"},
		{"token SQL refresh token", "POST", "/token", form, "grant_type=refresh_token&refresh_token=" + q(hostile), good, 400, "invalid_grant"},
		{"token SQL code", "POST", "/token", form, "grant_type=authorization_code&code=" + q(hostile) + "&redirect_uri=" + q(hostile), good, 400, "invalid_grant"},
		{"revoke huge body", "POST", "/revoke", form, "token=" + strings.Repeat("a", 1<<20), good, 413, "invalid_request"},
		{"revoke repeated token", "POST", "/revoke", form, "token=a&token=b", good, 400, "invalid_request"},
		{"revoke JSON body", "POST", "/revoke", "application/json", `{"token":"a"}`, good, 400, "invalid_request"},
		{"revoke invalid UTF-8", "POST", "/revoke", form, "token=%ff", good, 400, "invalid_request"},
		{"revoke no token", "POST", "/revoke", form, "", good, 400, "invalid_request"},
		{"introspect repeated token", "POST", "/introspect", form, "token=a&token=b", good, 400, "invalid_request"},
		{"introspect wrong content type", "POST", "/introspect", "text/plain", "token=a", good, 400, "invalid_request"},
		{"introspect huge body", "POST", "/introspect", form, "token=" + strings.Repeat("a", 1<<20), good, 413, "invalid_request"},
		{"authorize header injection in redirect_uri", "GET", "/authorize?response_type=code&client_id=" + e.key.ConsumerKey +
			"&redirect_uri=" + q(consentCallback+"\r\nLocation: https://evil.example"), "", "", "", 400, ""},
		{"authorize header injection in state", "GET", "/authorize?response_type=code&client_id=" + e.key.ConsumerKey +
			"&state=" + q("s\r\nSet-Cookie: x=1<script>alert(1)</script>"), "", "", "", http.StatusOK, ""},
		{"authorize invalid UTF-8", "GET", "/authorize?response_type=code&client_id=%ff%fe", "", "", "", 400, ""},
		{"authorize repeated client_id", "GET", "/authorize?response_type=code&client_id=a&client_id=b", "", "", "", 400, ""},
		{"authorize SQL client_id", "GET", "/authorize?response_type=code&client_id=" + q(hostile), "", "", "", 400, ""},
		{"authorize too many scopes", "GET", "/authorize?response_type=code&client_id=" + e.key.ConsumerKey +
			"&scope=" + q(manyScopes(oauth.MaxScopes+1)), "", "", "", 400, ""},
		{"authorize query too long", "GET", "/authorize?response_type=code&client_id=" + e.key.ConsumerKey +
			"&state=" + strings.Repeat("s", oauth.MaxAuthorizeQuery), "", "", "", 400, ""},
		{"authorize 64,000 scopes", "GET", "/authorize?response_type=code&client_id=" + e.key.ConsumerKey +
			"&scope=" + q(manyScopes(64_000)), "", "", "", 400, ""},
		{"authorize POST without form token", "POST", "/authorize", form, "decision=approve&client_id=" + e.key.ConsumerKey, "", 403, ""},
		{"authorize POST huge", "POST", "/authorize", form, "decision=" + strings.Repeat("a", 1<<20), "", 413, ""},
		{"store login huge", "POST", "/store/login", form, "csrf_token=" + csrf[1] + "&username=" + strings.Repeat("a", 1<<20), "", 413, ""},
		{"store login SQL", "POST", "/store/login", form, "csrf_token=" + csrf[1] + "&username=" + q(hostile) + "&password=" + q(hostile), "", 401, ""},
		{"store signup SQL and HTML", "POST", "/store/signup", form, "csrf_token=" + csrf[1] + "&username=" + q(hostile) +
			"&password=" + q(hostile) + "&password_confirm=x&email=" + q(hostile), "", 0, ""},
		{"store application invalid UTF-8", "POST", "/store/applications", form, "csrf_token=" + csrf[1] + "&name=%ff%fe&tier=Unlimited", "", 400, ""},
		{"store application NUL", "POST", "/store/applications", form, "csrf_token=" + csrf[1] + "&name=App&description=a%00b&tier=Unlimited", "", 422, ""},
		{"store application JSON body", "POST", "/store/applications", "application/json", `{"name":"x","csrf_token":"` + csrf[1] + `"}`, "", 403, ""},
		{"store application JSON body with the token header", "POST", "/store/applications", "application/json", `{"name":"x","tier":"Unlimited"}`, "csrf:" + csrf[1], 415, ""},
		{"store application without form token", "POST", "/store/applications", form, "name=x", "", 403, ""},
		{"store generate keys SQL", "POST", "/store/subscriptions/" + q(hostile) + "/PRODUCTION/generate", form, "csrf_token=" + csrf[1], "", 0, ""},
		{"store revoke access SQL", "POST", "/store/authorized/revoke", form, "csrf_token=" + csrf[1] + "&app_id=" + q(hostile), "", 400, ""},
		{"store publisher as subscriber", "POST", "/store/publisher", form, "csrf_token=" + csrf[1] + "&name=" + q(hostile), "", 403, ""},
		{"store path SQL", "GET", "/store/apis/" + q(hostile), "", "", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := e.api.URL
			if strings.HasPrefix(tt.path, "/store") {
				base = e.store.URL
			}
			before := fixture.Digest(t, e.db, "audit_events", "sessions", "login_counts", "login_reservations")
			req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			switch {
			case strings.HasPrefix(tt.auth, "csrf:"):
				req.Header.Set("X-CSRF-Token", strings.TrimPrefix(tt.auth, "csrf:"))
			case tt.auth != "":
				req.Header["Authorization"] = strings.Split(tt.auth, "\x00")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(raw)
			if resp.StatusCode >= 500 || (tt.status != 0 && resp.StatusCode != tt.status) ||
				(tt.status == 0 && (resp.StatusCode < 400 || resp.StatusCode > 499)) {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.status, body)
			}
			if tt.rfcError != "" && !strings.Contains(body, `"error":"`+tt.rfcError+`"`) {
				t.Errorf("body %.300s, want error %s", body, tt.rfcError)
			}
			for name, values := range resp.Header {
				for _, v := range values {
					if strings.ContainsAny(v, "\r\n") || name == "X-Injected" || (name == "Set-Cookie" && strings.HasPrefix(v, "x=")) {
						t.Errorf("injected header %s: %q", name, v)
					}
				}
			}
			if strings.Contains(body, "goroutine ") || strings.Contains(body, "<script>alert") {
				t.Errorf("body leaks or echoes raw input: %.500s", body)
			}
			if resp.StatusCode >= 400 {
				if after := fixture.Digest(t, e.db, "audit_events", "sessions", "login_counts", "login_reservations"); after != before {
					t.Error("a refused request changed the database")
				}
			}
		})
	}
}

// manyScopes is a scope parameter of n distinct names.
func manyScopes(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = "s" + strconv.Itoa(i)
	}
	return strings.Join(names, " ")
}

// TestMalformedGatewayCalls sends the gateway broken API calls: each is
// refused with a 4xx JSON error (a WSO2 fault from the gateway; echo's own
// for a method no route has), never a 5xx, and changes nothing: no usage is
// recorded but of a call whose application is known (the refusal of an
// unsubscribed one, which its Usage page shows). A call's usage is queued
// before its answer ends (Config.Observe sees it), and written later.
func TestMalformedGatewayCalls(t *testing.T) {
	d, key := fixture.Docs(t)
	if err := d.SeedSample(t.Context()); err != nil {
		t.Fatal(err)
	}
	o := oauth.NewServer(d, oauth.Validity{}, nil)
	var recorded atomic.Int64
	gw := gateway.New(o, d, gateway.Config{Observe: func(portal.Usage) { recorded.Add(1) }})
	defer gw.Close()
	srv := httptest.NewServer(web.New(web.Config{Gateway: gw}, handlers.New(o, d)).API())
	defer srv.Close()
	status, body := postToken(t, srv.URL+"/token", basic(key.ConsumerKey, key.Secret), "grant_type=client_credentials")
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	unsubscribed := body["access_token"].(string)
	for _, tt := range []struct {
		name, method, path, auth string
		status                   int
	}{
		{"no token", "GET", "/pizzashack/1.0.0/menu", "", 401},
		{"SQL token", "GET", "/pizzashack/1.0.0/menu", "Bearer " + url.QueryEscape(hostile), 401},
		{"token not UTF-8", "GET", "/pizzashack/1.0.0/menu", "Bearer \xff\xfe", 401},
		{"two schemes", "GET", "/pizzashack/1.0.0/menu", "Basic " + unsubscribed, 401},
		{"unsubscribed application", "GET", "/pizzashack/1.0.0/menu", "Bearer " + unsubscribed, 403}, // recorded
		{"dot segments", "GET", "/pizzashack/1.0.0/x/../menu", "Bearer " + unsubscribed, 400},
		{"encoded dot segments", "GET", "/pizzashack/1.0.0/%2e%2e/menu", "Bearer " + unsubscribed, 400},
		{"empty parameter segment", "GET", "/pizzashack/1.0.0/order//", "Bearer " + unsubscribed, 400},
		{"NUL in path", "GET", "/pizzashack/1.0.0/menu%00", "Bearer " + unsubscribed, 400},
		{"path parameter", "GET", "/pizzashack/1.0.0/menu;jsessionid=1", "Bearer " + unsubscribed, 400},
		{"path too long", "GET", "/pizzashack/1.0.0/" + strings.Repeat("a", 9000), "Bearer " + unsubscribed, 414},
		{"invalid UTF-8 in path", "GET", "/pizzashack/1.0.0/%ff%fe", "Bearer " + unsubscribed, 404},
		{"SQL in path", "GET", "/pizzashack/1.0.0/order/" + url.PathEscape(hostile), "Bearer " + unsubscribed, 400}, // ; and control characters
		{"unknown method", "BREW", "/pizzashack/1.0.0/menu", "Bearer " + unsubscribed, 405},
		{"unknown API", "GET", "/" + url.PathEscape(hostile) + "/1.0.0/menu", "Bearer " + unsubscribed, 400},
		{"unknown API, canonical", "GET", "/" + url.PathEscape("<script>") + "/1.0.0/menu", "Bearer " + unsubscribed, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := recorded.Load()
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header["Authorization"] = []string{tt.auth}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(raw), `"fault"`) && !strings.HasPrefix(string(raw), `{"error"`) {
				t.Errorf("%d %s, want %d with a JSON error", resp.StatusCode, raw, tt.status)
			}
			want := int64(0)
			if tt.name == "unsubscribed application" {
				want = 1
			}
			if got := recorded.Load() - before; got != want {
				t.Errorf("%d usage records, want %d", got, want)
			}
		})
	}
}
