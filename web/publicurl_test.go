package web_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/web"
)

// discoveryIssuer is the issuer the discovery document names for a request
// with the given headers.
func discoveryIssuer(t *testing.T, client *http.Client, base string, header map[string]string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/.well-known/oauth-authorization-server", nil)
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	if meta.TokenEndpoint != meta.Issuer+"/token" {
		t.Errorf("token endpoint %q under issuer %q", meta.TokenEndpoint, meta.Issuer)
	}
	return meta.Issuer
}

// forged are the headers a client can send to pass for another server.
var forged = map[string]string{"Host": "evil.example", "X-Forwarded-Proto": "http",
	"X-Forwarded-Host": "evil.example", "X-Forwarded-Ssl": "off", "X-Url-Scheme": "http"}

// TestHostHeaderIsNotTrusted: the URLs apistore writes (the issuer of the
// discovery document and of authorization responses, the log-in page it
// sends a visitor of the token port to, the store's links there, where a
// log-in may return to) come from the listener, never from what the client
// wrote in Host or X-Forwarded-*: one forged request must not poison a
// cached discovery document, nor turn apistore into an open redirector.
func TestHostHeaderIsNotTrusted(t *testing.T) {
	e := newAuthzEnv(t)
	client := *e.api.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if got := discoveryIssuer(t, &client, e.api.URL, forged); got != e.api.URL {
		t.Errorf("issuer %q after a forged Host, want %q", got, e.api.URL)
	}
	redirect := func(target string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		for k, v := range forged {
			req.Header.Set(k, v)
		}
		req.Host = forged["Host"]
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Location")
	}
	login := redirect(e.api.URL + "/authorize?response_type=code&client_id=" + e.key.ConsumerKey)
	wantLogin := e.store.URL + "/store/login?return=" + url.QueryEscape(e.api.URL+"/authorize?response_type=code&client_id="+e.key.ConsumerKey)
	if login != wantLogin {
		t.Errorf("anonymous /authorize sent to %q, want %q", login, wantLogin)
	}
	if got := redirect(e.api.URL + "/store/applications"); got != e.store.URL+"/store/applications" {
		t.Errorf("a store link on the token port sent to %q, want the store", got)
	}

	// The store's log-in page: a return to the forged host is dropped.
	ua := e.userAgent(t)
	req, _ := http.NewRequest(http.MethodGet, e.store.URL+"/store/login?return="+url.QueryEscape("https://evil.example/steal"), nil)
	req.Host = "evil.example"
	if page := ua.do(req); strings.Contains(page.body, "evil.example") {
		t.Errorf("the log-in page kept a return to the host the client named:\n%s", page.body)
	}
}

// TestPublicURLs: with --public-url and --store-public-url (a proxy, or
// another name, in front), the issuer, the log-in page the consent page
// sends to, the store's links on the token port and the log-in's return
// name them, whatever the client reached.
func TestPublicURLs(t *testing.T) {
	const api, store = "https://api.example.com", "https://portal.example.com:8443"
	e := newAuthzEnvWith(t, web.Config{PublicURL: api, StorePublicURL: store})
	client := *e.api.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if got := discoveryIssuer(t, &client, e.api.URL, nil); got != api {
		t.Errorf("issuer %q, want %q", got, api)
	}
	authorize := "/authorize?response_type=code&client_id=" + e.key.ConsumerKey
	resp, err := client.Get(e.api.URL + authorize)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	login := store + "/store/login?return=" + url.QueryEscape(api+authorize)
	if got := resp.Header.Get("Location"); got != login {
		t.Errorf("anonymous /authorize sent to %q, want %q", got, login)
	}

	// On the store: the return to the public API URL is kept, others dropped.
	ua := e.userAgent(t)
	page := ua.get(e.store.URL + "/store/login?return=" + url.QueryEscape(api+authorize))
	if !strings.Contains(page.body, `name="return" value="`+html.EscapeString(api+authorize)+`"`) {
		t.Errorf("the log-in page dropped the return to %s:\n%s", api, page.body)
	}
	page = ua.get(e.store.URL + "/store/login?return=" + url.QueryEscape("https://evil.example/x"))
	if strings.Contains(page.body, `name="return"`) {
		t.Errorf("the log-in page kept a return to another host:\n%s", page.body)
	}

	// The iss of an authorization response is the public URL too.
	ua = e.loggedIn(t)
	answer := callback(t, ua.get(e.api.URL+"/authorize?response_type=id_token&client_id="+e.key.ConsumerKey), false)
	if answer.Get("iss") != api {
		t.Errorf("iss %q, want %q", answer.Get("iss"), api)
	}
}

// TestTrustedProxies: a peer in --trusted-proxies speaks for its clients:
// X-Forwarded-For names the address that failures count against; from any
// other peer the header is ignored, so a client cannot dodge the address
// limit by writing a new address into each request.
func TestTrustedProxies(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tt := range []struct {
		name      string
		trusted   []netip.Prefix
		otherLock bool // whether the 20 failures of one forwarded address lock another
	}{
		{"behind a trusted proxy", loopback, false},
		{"no trusted proxy", nil, true},
		{"another proxy trusted", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := fixture.Docs(t)
			h := handlers.New(oauth.NewServer(d, oauth.Validity{}, nil), d)
			ts := httptest.NewServer(web.New(web.Config{TrustedProxies: tt.trusted}, h).API())
			t.Cleanup(ts.Close)
			fail := func(from, key string) int {
				t.Helper()
				resp, _ := sendForm(t, http.DefaultClient, ts.URL+"/token", "grant_type=client_credentials",
					map[string]string{"Authorization": basic(key, "wrong"), "X-Forwarded-For": "198.51.100.1, " + from})
				return resp.StatusCode
			}
			for i := range 20 {
				fail("203.0.113.9", "unknown-"+strconv.Itoa(i))
			}
			if status := fail("203.0.113.9", "another"); status != http.StatusTooManyRequests {
				t.Errorf("the failing address after 20 failures: %d, want 429", status)
			}
			status := fail("203.0.113.10", "yet-another")
			if locked := status == http.StatusTooManyRequests; locked != tt.otherLock {
				t.Errorf("another forwarded address: %d, locked %v, want %v", status, locked, tt.otherLock)
			}
		})
	}
}
