package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/web"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenEnv is the API application over fixture.Docs's database, served by
// httptest.
type tokenEnv struct {
	url string
	db  db.Store
	key fixture.Key
}

func newTokenEnv(t *testing.T, grants ...string) *tokenEnv {
	t.Helper()
	d, key := fixture.Docs(t, grants...)
	srv := web.New(web.Config{DataDir: t.TempDir()}, handlers.New(oauth.NewServer(d, oauth.Validity{}, nil), d))
	ts := httptest.NewServer(srv.API())
	t.Cleanup(ts.Close)
	return &tokenEnv{url: ts.URL, db: d, key: key}
}

func (e *tokenEnv) config() *oauth2.Config {
	return &oauth2.Config{ClientID: e.key.ConsumerKey, ClientSecret: e.key.Secret,
		Endpoint: oauth2.Endpoint{TokenURL: e.url + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
}

func TestOAuth2ClientGrants(t *testing.T) {
	e := newTokenEnv(t)
	ctx := context.Background()

	conf := e.config()
	conf.Scopes = []string{"read", "update"}
	tok, err := conf.PasswordCredentialsToken(ctx, "root", "root-password")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Extra("scope") != "read update" || tok.Expiry.IsZero() {
		t.Fatalf("password grant: %+v scope %v", tok, tok.Extra("scope"))
	}

	// Refresh through the library: an expired token makes the source refresh.
	tok.Expiry = tok.Expiry.Add(-2 * 3600e9)
	refreshed, err := conf.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == tok.RefreshToken || refreshed.RefreshToken == "" {
		t.Fatalf("refresh did not rotate: %+v", refreshed)
	}
	// The used refresh token is now refused.
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil ||
		err.(*oauth2.RetrieveError).ErrorCode != "invalid_grant" {
		t.Fatalf("reused refresh token: %v", err)
	}

	cc := clientcredentials.Config{ClientID: e.key.ConsumerKey, ClientSecret: e.key.Secret, TokenURL: e.url + "/token",
		Scopes: []string{"update", "read"}}
	app, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if app.RefreshToken != "" || app.Extra("scope") != "read" {
		t.Fatalf("client_credentials: %+v scope %v", app, app.Extra("scope"))
	}
	// Client credentials in the body work too.
	cc.AuthStyle = oauth2.AuthStyleInParams
	if _, err := cc.Token(ctx); err != nil {
		t.Fatal(err)
	}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

func TestTokenErrors(t *testing.T) {
	e := newTokenEnv(t)
	alice, _ := e.db.UserAccount(context.Background(), "alice")
	ccOnly, _ := fixture.App(t, e.db, alice, "CCOnly", oauth.GrantClientCredentials)
	auth := basic(e.key.ConsumerKey, e.key.Secret)
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, contentType, body string
		auth                            []string
		status                          int
		code                            string
	}{
		{"wrong secret", "POST", form, "grant_type=client_credentials", []string{basic(e.key.ConsumerKey, "wrong")}, 401, "invalid_client"},
		{"unknown client", "POST", form, "grant_type=client_credentials", []string{basic("nobody", "x")}, 401, "invalid_client"},
		{"no client authentication", "POST", form, "grant_type=client_credentials", nil, 401, "invalid_client"},
		{"bearer instead of basic", "POST", form, "grant_type=client_credentials", []string{"Bearer x"}, 401, "invalid_client"},
		{"wrong password", "POST", form, "grant_type=password&username=alice&password=wrong", []string{auth}, 400, "invalid_grant"},
		{"unknown user", "POST", form, "grant_type=password&username=nobody&password=wrong", []string{auth}, 400, "invalid_grant"},
		{"unsupported grant", "POST", form, "grant_type=magic", []string{auth}, 400, "unsupported_grant_type"},
		{"grant not allowed", "POST", form, "grant_type=password&username=alice&password=alice-password",
			[]string{basic(ccOnly.ConsumerKey, ccOnly.Secret)}, 400, "unauthorized_client"},
		{"missing grant_type", "POST", form, "username=alice", []string{auth}, 400, "invalid_request"},
		{"repeated parameter", "POST", form, "grant_type=password&username=alice&username=root&password=x", []string{auth}, 400, "invalid_request"},
		{"JSON body", "POST", "application/json", `{"grant_type":"client_credentials"}`, []string{auth}, 400, "invalid_request"},
		{"both auth methods", "POST", form, "grant_type=client_credentials&client_id=" + e.key.ConsumerKey + "&client_secret=" + e.key.Secret,
			[]string{auth}, 400, "invalid_request"},
		{"two Authorization headers", "POST", form, "grant_type=client_credentials", []string{auth, auth}, 400, "invalid_request"},
		{"invalid UTF-8", "POST", form, "grant_type=password&username=%ff&password=x", []string{auth}, 400, "invalid_request"},
		{"body over 64 KiB", "POST", form, "grant_type=client_credentials&x=" + strings.Repeat("a", 70<<10), []string{auth}, 413, "invalid_request"},
		{"GET", "GET", "", "", []string{auth}, 405, "invalid_request"},
		{"PUT", "PUT", form, "grant_type=client_credentials", []string{auth}, 405, "invalid_request"},
	}
	descriptions := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.url+"/token", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			for _, a := range tt.auth {
				req.Header.Add("Authorization", a)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if resp.StatusCode != tt.status || body.Error != tt.code || body.Description == "" {
				t.Fatalf("got %d %+v, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q", got)
			}
			if tt.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
				t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
			if tt.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
			descriptions[tt.name] = body.Description
		})
	}
	if descriptions["wrong password"] != descriptions["unknown user"] {
		t.Errorf("wrong password and unknown user answer differently: %q vs %q", descriptions["wrong password"], descriptions["unknown user"])
	}
}

func postToken(t *testing.T, url, auth, body string) (int, map[string]any) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Errorf("body %q: %v", raw, err)
	}
	return resp.StatusCode, out
}

// TestConcurrentTokensAreDistinct: 200 tokens asked for at once, of one
// client and one user, are 200 different tokens. One in ten is a password
// grant: more would test the password queue rather than the tokens (a
// user's attempts are checked a few at a time, see TestConcurrentGuessesAreCounted).
func TestConcurrentTokensAreDistinct(t *testing.T) {
	e := newTokenEnv(t)
	auth := basic(e.key.ConsumerKey, e.key.Secret)
	const n = 200
	tokens := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := "grant_type=client_credentials"
			if i%10 == 0 {
				form = "grant_type=password&username=alice&password=alice-password"
			}
			status, body := postToken(t, e.url+"/token", auth, form)
			if status != 200 {
				t.Errorf("request %d: %d %v", i, status, body)
				return
			}
			tokens[i], _ = body["access_token"].(string)
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, tok := range tokens {
		if tok == "" || seen[tok] {
			t.Fatalf("empty or duplicate token %q", tok)
		}
		seen[tok] = true
	}
}

func TestConcurrentRefreshOverHTTP(t *testing.T) {
	e := newTokenEnv(t)
	auth := basic(e.key.ConsumerKey, e.key.Secret)
	_, first := postToken(t, e.url+"/token", auth, "grant_type=password&username=alice&password=alice-password")
	body := "grant_type=refresh_token&refresh_token=" + url.QueryEscape(first["refresh_token"].(string))
	statuses := make(chan int, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := postToken(t, e.url+"/token", auth, body)
			statuses <- status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[200] != 1 || count[400] != 1 {
		t.Fatalf("statuses %v, want one 200 and one 400", count)
	}
}
