package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// storeClient is a browser-like HTTPS client for the binary's store: it
// keeps cookies, accepts the self-signed certificate and stops at redirects.
func storeClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)"`)

// TestStoreSessionsSurviveRestartAndSignupSwitch checks, on the binary,
// that session keys kept in the data directory keep a user logged in across
// a restart, and that APISTORE_SELF_SIGNUP=false closes the sign-up page.
func TestStoreSessionsSurviveRestartAndSignupSwitch(t *testing.T) {
	dataDir := newDataDir(t)
	anyPort := []string{"--store-port", "0", "--https-port", "0", "--http-port", "0"}
	s := startServer(t, dataDir, nil, anyPort...)
	c := storeClient()
	_, page := fetch(t, c, http.MethodGet, s.urls["store"]+"/signup", nil)
	m := csrfMeta.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token on the sign-up page:\n%s", page)
	}
	status, _ := fetch(t, c, http.MethodPost, s.urls["store"]+"/signup", url.Values{"csrf_token": {m[1]},
		"username": {"frank"}, "password": {"frank-password"}, "password_confirm": {"frank-password"}, "email": {"frank@example.com"}})
	if status != http.StatusSeeOther {
		t.Fatalf("sign up: %d", status)
	}
	s.stop(t)

	s = startServer(t, dataDir, []string{"APISTORE_SELF_SIGNUP=false"}, anyPort...)
	// Cookies ignore ports: the jar sends the session to the new port as a browser would.
	if _, page := fetch(t, c, http.MethodGet, s.urls["store"], nil); !strings.Contains(page, `data-testid="username">frank<`) {
		t.Errorf("logged out by the restart:\n%s", page)
	}
	if status, _ := fetch(t, c, http.MethodGet, s.urls["store"]+"/signup", nil); status != http.StatusNotFound {
		t.Errorf("sign-up page with APISTORE_SELF_SIGNUP=false: %d", status)
	}
}
