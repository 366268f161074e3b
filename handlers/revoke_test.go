package handlers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/web"
)

// revokeFixture serves the API application over a real SQLite file, with
// one user and applications made on demand.
type revokeFixture struct {
	db   *db.DB
	srv  *oauth.Server
	api  *httptest.Server
	user *oauth.User
}

const revokePassword = "a-long-password"

func newRevokeFixture(t *testing.T) *revokeFixture {
	t.Helper()
	d, err := db.Open(filepath.Join(t.TempDir(), "apistore.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx := context.Background()
	hash, err := oauth.HashPassword(revokePassword)
	if err != nil {
		t.Fatal(err)
	}
	u := &db.User{User: oauth.User{Username: "admin", PasswordHash: hash}}
	if err := d.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := d.PutScope(ctx, oauth.Scope{Name: "read", Description: "Read orders"}); err != nil {
		t.Fatal(err)
	}
	srv := oauth.NewServer(d, oauth.Validity{}, nil)
	api := httptest.NewServer(web.New(web.Config{}, handlers.New(srv, d)).API())
	t.Cleanup(api.Close)
	return &revokeFixture{db: d, srv: srv, api: api, user: &u.User}
}

type keyPair struct{ key, secret string }

// basic is the Authorization header value of the WSO2 docs.
func (k keyPair) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(k.key+":"+k.secret))
}

func (f *revokeFixture) newApp(t *testing.T, name string) keyPair {
	t.Helper()
	var prod keyPair
	app := &db.Application{OwnerID: f.user.ID, Name: name, Tier: "Unlimited"}
	err := f.db.CreateApplicationWithKeys(context.Background(), app, func(kt oauth.KeyType) *oauth.Client {
		k := keyPair{oauth.NewConsumerKey(), oauth.NewSecret()}
		if kt == oauth.Production {
			prod = k
		}
		return &oauth.Client{ConsumerKey: k.key, SecretHash: oauth.HashOf(k.secret), KeyType: kt,
			GrantTypes: oauth.AllGrantTypes, CallbackURL: "https://client.example.com/cb"}
	})
	if err != nil {
		t.Fatal(err)
	}
	return prod
}

// post sends a form as curl -d does, with the given headers.
func (f *revokeFixture) post(t *testing.T, path, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.api.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// passwordTokens gets tokens at /token as the WSO2 docs do.
func (f *revokeFixture) passwordTokens(t *testing.T, k keyPair) *oauth.TokenResponse {
	t.Helper()
	resp, body := f.post(t, "/token", "grant_type=password&username=admin&password="+revokePassword+"&scope=read",
		map[string]string{"Authorization": k.basic()})
	var tok oauth.TokenResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	return &tok
}

// implicitToken approves an implicit request for the user.
func (f *revokeFixture) implicitToken(t *testing.T, k keyPair) string {
	t.Helper()
	ctx := context.Background()
	r, _ := oauth.ParseAuthorizeRequest("response_type=token&client_id=" + k.key)
	a, oerr := f.srv.CheckAuthorize(ctx, r)
	if oerr != nil {
		t.Fatal(oerr)
	}
	to, oerr := f.srv.Approve(ctx, a, f.user)
	if oerr != nil {
		t.Fatal(oerr)
	}
	u, _ := url.Parse(to)
	v, _ := url.ParseQuery(u.Fragment)
	return v.Get("access_token")
}

// active asks /introspect whether the token is active.
func (f *revokeFixture) active(t *testing.T, k keyPair, token string) bool {
	t.Helper()
	resp, body := f.post(t, "/introspect", "token="+token, map[string]string{"Authorization": k.basic()})
	var got oauth.Introspection
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	return got.Active
}

func TestRevokeEndpoint(t *testing.T) {
	f := newRevokeFixture(t)
	k, other := f.newApp(t, "DefaultApplication"), f.newApp(t, "Other")

	t.Run("WSO2 curl: access token with Basic auth", func(t *testing.T) {
		tok := f.passwordTokens(t, k)
		resp, body := f.post(t, "/revoke", "token="+tok.AccessToken, map[string]string{"Authorization": k.basic()})
		h := resp.Header
		if resp.StatusCode != http.StatusOK || body != "" {
			t.Fatalf("revoke: %d %q", resp.StatusCode, body)
		}
		if h.Get("RevokedAccessToken") != tok.AccessToken || h.Get("RevokedRefreshToken") != oauth.HashOf(tok.RefreshToken).String() ||
			h.Get("AuthorizedUser") != "admin" || h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
			t.Fatalf("headers %v", h)
		}
		if f.active(t, k, tok.AccessToken) || f.active(t, k, tok.RefreshToken) {
			t.Fatal("token still active")
		}
	})
	t.Run("refresh token", func(t *testing.T) {
		tok := f.passwordTokens(t, k)
		resp, _ := f.post(t, "/revoke", "token="+tok.RefreshToken+"&token_type_hint=refresh_token",
			map[string]string{"Authorization": k.basic()})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("RevokedRefreshToken") != tok.RefreshToken {
			t.Fatalf("revoke: %d %v", resp.StatusCode, resp.Header)
		}
		if f.active(t, k, tok.AccessToken) {
			t.Fatal("access token still active")
		}
	})
	t.Run("WSO2 curl: implicit token with client_id alone", func(t *testing.T) {
		token := f.implicitToken(t, k)
		resp, body := f.post(t, "/revoke", "token="+token+"&token_type_hint=access_token&client_id="+k.key,
			map[string]string{"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
		if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("RevokedAccessToken") != token {
			t.Fatalf("revoke: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		if f.active(t, k, token) {
			t.Fatal("implicit token still active")
		}
	})
	t.Run("invalid token: 200 without headers", func(t *testing.T) {
		resp, body := f.post(t, "/revoke", "token=not-a-token", map[string]string{"Authorization": k.basic()})
		if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("RevokedAccessToken") != "" || resp.Header.Get("AuthorizedUser") != "" {
			t.Fatalf("revoke: %d %q %v", resp.StatusCode, body, resp.Header)
		}
	})
	t.Run("another client's token: 200, stays valid", func(t *testing.T) {
		tok := f.passwordTokens(t, k)
		resp, _ := f.post(t, "/revoke", "token="+tok.AccessToken, map[string]string{"Authorization": other.basic()})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("RevokedAccessToken") != "" {
			t.Fatalf("revoke: %d %v", resp.StatusCode, resp.Header)
		}
		if !f.active(t, k, tok.AccessToken) {
			t.Fatal("another client revoked the token")
		}
	})

	tok := f.passwordTokens(t, k)
	errorCases := []struct {
		name, body string
		header     map[string]string
		status     int
		code       string
	}{
		{"no client authentication", "token=" + tok.AccessToken, nil, http.StatusUnauthorized, oauth.ErrCodeInvalidClient},
		{"client_id alone for a password token", "token=" + tok.AccessToken + "&client_id=" + k.key, nil, http.StatusUnauthorized, oauth.ErrCodeInvalidClient},
		{"wrong secret", "token=" + tok.AccessToken, map[string]string{"Authorization": keyPair{k.key, "wrong"}.basic()}, http.StatusUnauthorized, oauth.ErrCodeInvalidClient},
		{"missing token", "token_type_hint=access_token", map[string]string{"Authorization": k.basic()}, http.StatusBadRequest, oauth.ErrCodeInvalidRequest},
		{"repeated token", "token=a&token=b", map[string]string{"Authorization": k.basic()}, http.StatusBadRequest, oauth.ErrCodeInvalidRequest},
		{"JSON body", `{"token":"a"}`, map[string]string{"Authorization": k.basic(), "Content-Type": "application/json"}, http.StatusBadRequest, oauth.ErrCodeInvalidRequest},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.post(t, "/revoke", tt.body, tt.header)
			var e oauth.Error
			if resp.StatusCode != tt.status || json.Unmarshal([]byte(body), &e) != nil || e.Code != tt.code {
				t.Fatalf("revoke: %d %s, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
			if tt.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	if !f.active(t, k, tok.AccessToken) {
		t.Fatal("a refused request revoked the token")
	}
	t.Run("GET is refused", func(t *testing.T) {
		resp, err := http.Get(f.api.URL + "/revoke?token=" + tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
			t.Fatalf("GET /revoke: %d", resp.StatusCode)
		}
	})
}

func TestIntrospectEndpoint(t *testing.T) {
	f := newRevokeFixture(t)
	k := f.newApp(t, "DefaultApplication")
	tok := f.passwordTokens(t, k)
	resp, body := f.post(t, "/introspect", "token="+tok.AccessToken+"&token_type_hint=access_token&client_id="+k.key+"&client_secret="+k.secret, nil)
	var got map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	if got["active"] != true || got["scope"] != "read" || got["client_id"] != k.key || got["username"] != "admin" ||
		got["sub"] != "admin" || got["token_type"] != "Bearer" || got["exp"] == nil || got["iat"] == nil {
		t.Fatalf("introspection %s", body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("introspection may be cached")
	}
	_, body = f.post(t, "/introspect", "token=nope", map[string]string{"Authorization": k.basic()})
	if strings.TrimSpace(body) != `{"active":false}` {
		t.Fatalf("unknown token: %s", body)
	}
	resp, _ = f.post(t, "/introspect", "token="+tok.AccessToken+"&client_id="+k.key, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated introspection: %d", resp.StatusCode)
	}
}

func TestDiscovery(t *testing.T) {
	f := newRevokeFixture(t)
	resp, err := http.Get(f.api.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m oauth.Metadata
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	if m.Issuer != f.api.URL || m.TokenEndpoint != f.api.URL+"/token" || m.AuthorizationEndpoint != f.api.URL+"/authorize" ||
		m.RevocationEndpoint != f.api.URL+"/revoke" || m.IntrospectionEndpoint != f.api.URL+"/introspect" {
		t.Fatalf("endpoints %+v", m)
	}
	want := map[string][]string{
		"scopes":         {"default", "read"},
		"response types": {"code", "token"},
		"PKCE methods":   {"S256", "plain"},
		"token auth":     {"client_secret_basic", "client_secret_post"},
		"grant types":    oauth.AllGrantTypes,
	}
	got := map[string][]string{
		"scopes":         m.ScopesSupported,
		"response types": m.ResponseTypesSupported,
		"PKCE methods":   m.CodeChallengeMethodsSupported,
		"token auth":     m.TokenEndpointAuthMethods,
		"grant types":    m.GrantTypesSupported,
	}
	for k := range want {
		if strings.Join(got[k], " ") != strings.Join(want[k], " ") {
			t.Errorf("%s = %v, want %v", k, got[k], want[k])
		}
	}
}
