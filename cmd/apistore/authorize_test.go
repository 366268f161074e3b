package main

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// approveIn follows an authorization request as a browser would: log in on
// the store when there is no session yet, then Approve on the consent page.
// It returns the redirect back to the client.
func approveIn(t *testing.T, s *server, c *http.Client, authorizeURL string) *url.URL {
	t.Helper()
	status, page := fetch(t, c, http.MethodGet, authorizeURL, nil)
	if status == http.StatusSeeOther {
		_, login := fetch(t, c, http.MethodGet, s.urls["store"]+"/login", nil)
		if m := csrfMeta.FindStringSubmatch(login); m != nil {
			fetch(t, c, http.MethodPost, s.urls["store"]+"/login", url.Values{"csrf_token": {m[1]},
				"username": {"alice"}, "password": {"s3cret-password"}})
		}
		status, page = fetch(t, c, http.MethodGet, authorizeURL, nil)
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d, want the consent page:\n%s", authorizeURL, status, page)
	}
	form := url.Values{"decision": {"approve"}}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	u, _ := url.Parse(authorizeURL)
	resp, err := c.PostForm(u.Scheme+"://"+u.Host+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("Approve: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return to
}

// TestWSO2AuthorizeCurl runs the docs' authorization code example (GET
// /authorize with scope=PRODUCTION and the callback URL encoded as they
// encode it, then the code at /token) and the revocation of an implicit
// grant's token with client_id alone, with the real curl on the binary.
func TestWSO2AuthorizeCurl(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, "--store-port", "0", "--https-port", "0", "--http-port", "0")
	s.admin(t, "s3cret-password\n", "user create", "--username", "alice")
	var k keys
	out := s.admin(t, "", "app create", "--owner", "alice", "--name", "DefaultApplication",
		"--callback-url", "https://client.example.com/cb", "--grant-types", "authorization_code,implicit,refresh_token")
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(k.Production.ConsumerKey + ":" + k.Production.ConsumerSecret))
	c := storeClient()

	to := approveIn(t, s, c, s.urls["https"]+"/authorize?response_type=code&client_id="+k.Production.ConsumerKey+
		"&scope=PRODUCTION&redirect_uri=https%3A%2F%2Fclient%2Eexample%2Ecom%2Fcb")
	code := to.Query().Get("code")
	if to.Host != "client.example.com" || to.Path != "/cb" || code == "" {
		t.Fatalf("approved to %s, want https://client.example.com/cb?code=…", to)
	}
	got := curl(t, "-k", "-d", "grant_type=authorization_code&code="+code+"&redirect_uri=https%3A%2F%2Fclient%2Eexample%2Ecom%2Fcb",
		"-H", "Authorization: Basic "+b64, "-H", "Content-Type: application/x-www-form-urlencoded", s.urls["https"]+"/token")
	if got["access_token"] == nil || got["refresh_token"] == nil || got["token_type"] != "Bearer" || got["scope"] != "default" {
		t.Fatalf("code exchange: %v", got)
	}

	to = approveIn(t, s, c, s.urls["https"]+"/authorize?response_type=token&client_id="+k.Production.ConsumerKey+
		"&scope=PRODUCTION&redirect_uri=https%3A%2F%2Fclient%2Eexample%2Ecom%2Fcb")
	fragment, _ := url.ParseQuery(to.Fragment)
	implicit := fragment.Get("access_token")
	if implicit == "" {
		t.Fatalf("implicit grant: %s", to)
	}
	status, h := curlHeaders(t, "-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded;charset=UTF-8",
		"-d", "token="+implicit+"&token_type_hint=access_token&client_id="+k.Production.ConsumerKey, s.urls["http"]+"/revoke")
	if status != 200 || h.Get("Revokedaccesstoken") != implicit || h.Get("Authorizeduser") != "alice@carbon.super" || h.Get("Revokedrefreshtoken") != "" {
		t.Fatalf("implicit revoke: %d %v", status, h)
	}
}
