package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// revokeEnv is newTokenEnv with alice's key allowing every grant, a second
// application of hers, and an oauth server to approve implicit requests.
type revokeEnv struct {
	*tokenEnv
	srv   *oauth.Server
	alice *portal.User
	other fixture.Key
}

func newRevokeEnv(t *testing.T) *revokeEnv {
	t.Helper()
	e := &revokeEnv{tokenEnv: newTokenEnv(t, oauth.AllGrantTypes...)}
	e.srv = oauth.NewServer(e.db, oauth.Validity{}, nil)
	var err error
	if e.alice, err = e.db.UserAccount(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	e.other, _ = fixture.App(t, e.db, e.alice, "Other", oauth.AllGrantTypes...)
	return e
}

func keyBasic(k fixture.Key) string { return basic(k.ConsumerKey, k.Secret) }

// post sends a form as curl -d does, with the given headers.
func (f *revokeEnv) post(t *testing.T, path, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	return sendForm(t, http.DefaultClient, f.url+path, body, header)
}

// sendForm posts a form body with the given headers and reads the answer.
func sendForm(t *testing.T, client *http.Client, target, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
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
func (f *revokeEnv) passwordTokens(t *testing.T, k fixture.Key) *oauth.TokenResponse {
	t.Helper()
	resp, body := f.post(t, "/token", "grant_type=password&username=alice&password=alice-password&scope=read",
		map[string]string{"Authorization": keyBasic(k)})
	var tok oauth.TokenResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	return &tok
}

// implicitToken approves an implicit request of a new application for alice.
func (f *revokeEnv) implicitToken(t *testing.T) (fixture.Key, string) {
	t.Helper()
	ctx := context.Background()
	k, _ := fixture.AppWithCallback(t, f.db, f.alice, "Implicit-"+oauth.NewConsumerKey(), "https://client.example.com/cb", oauth.GrantImplicit)
	r, _ := oauth.ParseAuthorizeRequest("response_type=token&client_id=" + k.ConsumerKey)
	a, oerr := f.srv.CheckAuthorize(ctx, r)
	if oerr != nil {
		t.Fatal(oerr)
	}
	to, oerr := f.srv.Approve(ctx, a, &f.alice.User)
	if oerr != nil {
		t.Fatal(oerr)
	}
	u, _ := url.Parse(to)
	v, _ := url.ParseQuery(u.Fragment)
	return k, v.Get("access_token")
}

// active asks /introspect whether the token is active.
func (f *revokeEnv) active(t *testing.T, k fixture.Key, token string) bool {
	t.Helper()
	resp, body := f.post(t, "/introspect", "token="+token, map[string]string{"Authorization": keyBasic(k)})
	var got oauth.Introspection
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	return got.Active
}

func TestRevokeEndpoint(t *testing.T) {
	f := newRevokeEnv(t)
	k, other := f.key, f.other

	t.Run("WSO2 curl: access token with Basic auth", func(t *testing.T) {
		tok := f.passwordTokens(t, k)
		resp, body := f.post(t, "/revoke", "token="+tok.AccessToken, map[string]string{"Authorization": keyBasic(k)})
		h := resp.Header
		if resp.StatusCode != http.StatusOK || body != "" {
			t.Fatalf("revoke: %d %q", resp.StatusCode, body)
		}
		if h.Get("RevokedAccessToken") != tok.AccessToken || h.Get("RevokedRefreshToken") != oauth.HashOf(tok.RefreshToken).String() ||
			h.Get("AuthorizedUser") != "alice@carbon.super" || h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
			t.Fatalf("headers %v", h)
		}
		if f.active(t, k, tok.AccessToken) || f.active(t, k, tok.RefreshToken) {
			t.Fatal("token still active")
		}
	})
	t.Run("refresh token", func(t *testing.T) {
		tok := f.passwordTokens(t, k)
		resp, _ := f.post(t, "/revoke", "token="+tok.RefreshToken+"&token_type_hint=refresh_token",
			map[string]string{"Authorization": keyBasic(k)})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("RevokedRefreshToken") != tok.RefreshToken {
			t.Fatalf("revoke: %d %v", resp.StatusCode, resp.Header)
		}
		if f.active(t, k, tok.AccessToken) {
			t.Fatal("access token still active")
		}
	})
	t.Run("WSO2 curl: implicit token with client_id alone", func(t *testing.T) {
		ik, token := f.implicitToken(t)
		resp, body := f.post(t, "/revoke", "token="+token+"&token_type_hint=access_token&client_id="+ik.ConsumerKey,
			map[string]string{"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
		if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("RevokedAccessToken") != token {
			t.Fatalf("revoke: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		if f.active(t, ik, token) {
			t.Fatal("implicit token still active")
		}
	})
	t.Run("invalid token: 200 without headers", func(t *testing.T) {
		resp, body := f.post(t, "/revoke", "token=not-a-token", map[string]string{"Authorization": keyBasic(k)})
		if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("RevokedAccessToken") != "" || resp.Header.Get("AuthorizedUser") != "" {
			t.Fatalf("revoke: %d %q %v", resp.StatusCode, body, resp.Header)
		}
	})
	t.Run("another client's token: 200, stays valid", func(t *testing.T) {
		tok := f.passwordTokens(t, k)
		resp, _ := f.post(t, "/revoke", "token="+tok.AccessToken, map[string]string{"Authorization": keyBasic(other)})
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
		{"client_id alone for a password token", "token=" + tok.AccessToken + "&client_id=" + k.ConsumerKey, nil, http.StatusUnauthorized, oauth.ErrCodeInvalidClient},
		{"wrong secret", "token=" + tok.AccessToken, map[string]string{"Authorization": basic(k.ConsumerKey, "wrong")}, http.StatusUnauthorized, oauth.ErrCodeInvalidClient},
		{"missing token", "token_type_hint=access_token", map[string]string{"Authorization": keyBasic(k)}, http.StatusBadRequest, oauth.ErrCodeInvalidRequest},
		{"repeated token", "token=a&token=b", map[string]string{"Authorization": keyBasic(k)}, http.StatusBadRequest, oauth.ErrCodeInvalidRequest},
		{"JSON body", `{"token":"a"}`, map[string]string{"Authorization": keyBasic(k), "Content-Type": "application/json"}, http.StatusBadRequest, oauth.ErrCodeInvalidRequest},
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
		resp, err := http.Get(f.url + "/revoke?token=" + tok.AccessToken)
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
	f := newRevokeEnv(t)
	k := f.key
	tok := f.passwordTokens(t, k)
	resp, body := f.post(t, "/introspect", "token="+tok.AccessToken+"&token_type_hint=access_token&client_id="+k.ConsumerKey+"&client_secret="+k.Secret, nil)
	var got map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	if got["active"] != true || got["scope"] != "read" || got["client_id"] != k.ConsumerKey || got["username"] != "alice@carbon.super" ||
		got["sub"] != "alice@carbon.super" || got["token_type"] != "Bearer" || got["exp"] == nil || got["iat"] == nil {
		t.Fatalf("introspection %s", body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("introspection may be cached")
	}
	_, body = f.post(t, "/introspect", "token=nope", map[string]string{"Authorization": keyBasic(k)})
	if strings.TrimSpace(body) != `{"active":false}` {
		t.Fatalf("unknown token: %s", body)
	}
	resp, _ = f.post(t, "/introspect", "token="+tok.AccessToken+"&client_id="+k.ConsumerKey, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated introspection: %d", resp.StatusCode)
	}
}

func TestDiscovery(t *testing.T) {
	f := newTokenEnv(t)
	resp, err := http.Get(f.url + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m oauth.Metadata
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	if m.Issuer != f.url || m.TokenEndpoint != f.url+"/token" || m.AuthorizationEndpoint != f.url+"/authorize" ||
		m.RevocationEndpoint != f.url+"/revoke" || m.IntrospectionEndpoint != f.url+"/introspect" {
		t.Fatalf("endpoints %+v", m)
	}
	want := map[string][]string{
		"scopes":         {"default", "read", "update"},
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
