package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

var codeGrants = []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}

// approve runs an authorization request for the fixture's user to the
// redirect URL it answers with.
func (f *authzFixture) approve(t *testing.T, query string) *url.URL {
	t.Helper()
	ctx := context.Background()
	r, oerr := oauth.ParseAuthorizeRequest(query)
	if oerr != nil {
		t.Fatalf("parse %q: %v", query, oerr)
	}
	a, oerr := f.srv.CheckAuthorize(ctx, r)
	if oerr != nil {
		t.Fatalf("check %q: %v", query, oerr)
	}
	to, oerr := f.srv.Approve(ctx, a, &f.user.User)
	if oerr != nil {
		t.Fatalf("approve %q: %v", query, oerr)
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// code gets an authorization code for c with extra query parameters.
func (f *authzFixture) code(t *testing.T, c fixture.Key, extra string) string {
	t.Helper()
	u := f.approve(t, "response_type=code&client_id="+c.ConsumerKey+"&scope=read&state=xyz"+extra)
	code := u.Query().Get("code")
	if code == "" || u.Query().Get("state") != "xyz" {
		t.Fatalf("redirect %s has no code or the wrong state", u)
	}
	return code
}

func (f *authzFixture) exchange(c fixture.Key, code, redirectURI, verifier string) (*oauth.TokenResponse, *oauth.Error) {
	return f.srv.Token(context.Background(), &oauth.TokenRequest{GrantType: oauth.GrantAuthorizationCode,
		ClientID: c.ConsumerKey, ClientSecret: c.Secret, Code: code, RedirectURI: redirectURI, CodeVerifier: verifier})
}

// valid reports whether an access token is accepted.
func (f *authzFixture) valid(t *testing.T, token string) bool {
	t.Helper()
	_, err := f.srv.Validate(context.Background(), token)
	if err != nil && !errors.Is(err, oauth.ErrInvalidToken) {
		t.Fatal(err)
	}
	return err == nil
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func mustParseQuery(t *testing.T, s string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantErr(t *testing.T, got *oauth.Error, code string) {
	t.Helper()
	if got == nil || got.Code != code {
		t.Fatalf("error = %v, want %s", got, code)
	}
}

func TestCheckAuthorize(t *testing.T) {
	f := newAuthzFixture(t)
	c := f.newApp(t, codeGrants...)
	ctx := context.Background()
	esc := url.QueryEscape
	tests := []struct {
		name     string
		query    string
		redirect bool   // the error goes back to the client
		code     string // "" when the request is good
	}{
		{"good, redirect_uri omitted", "response_type=code&client_id=" + c.ConsumerKey, false, ""},
		{"good, redirect_uri exact", "response_type=code&client_id=" + c.ConsumerKey + "&redirect_uri=" + esc(fixtureCallback), false, ""},
		{"unknown client", "response_type=code&client_id=nobody", false, oauth.ErrCodeInvalidClient},
		{"no client", "response_type=code", false, oauth.ErrCodeInvalidRequest},
		{"redirect_uri with a different path", "response_type=code&client_id=" + c.ConsumerKey + "&redirect_uri=" + esc(fixtureCallback+"/x"), false, oauth.ErrCodeInvalidRequest},
		{"redirect_uri with an extra query", "response_type=code&client_id=" + c.ConsumerKey + "&redirect_uri=" + esc(fixtureCallback+"?a=1"), false, oauth.ErrCodeInvalidRequest},
		{"redirect_uri on another host", "response_type=code&client_id=" + c.ConsumerKey + "&redirect_uri=" + esc("https://evil.example/cb"), false, oauth.ErrCodeInvalidRequest},
		{"no response_type", "client_id=" + c.ConsumerKey, true, oauth.ErrCodeInvalidRequest},
		{"unknown response_type", "response_type=id_token&client_id=" + c.ConsumerKey, true, oauth.ErrCodeUnsupportedResponse},
		{"implicit not enabled", "response_type=token&client_id=" + c.ConsumerKey, true, oauth.ErrCodeUnauthorizedClient},
		{"unknown PKCE method", "response_type=code&client_id=" + c.ConsumerKey + "&code_challenge=" + s256("v") + "&code_challenge_method=S512", true, oauth.ErrCodeInvalidRequest},
		{"PKCE method without challenge", "response_type=code&client_id=" + c.ConsumerKey + "&code_challenge_method=S256", true, oauth.ErrCodeInvalidRequest},
		{"short challenge", "response_type=code&client_id=" + c.ConsumerKey + "&code_challenge=abc", true, oauth.ErrCodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, oerr := oauth.ParseAuthorizeRequest(tt.query + "&state=s1")
			if oerr != nil {
				t.Fatal(oerr)
			}
			a, oerr := f.srv.CheckAuthorize(ctx, r)
			if tt.code == "" {
				if oerr != nil || a.RedirectURI != fixtureCallback {
					t.Fatalf("got %v, %v; want success", a, oerr)
				}
				return
			}
			wantErr(t, oerr, tt.code)
			if (a != nil) != tt.redirect {
				t.Fatalf("redirectable = %v, want %v", a != nil, tt.redirect)
			}
			if a == nil {
				return
			}
			u, err := url.Parse(a.ErrorURL(oerr))
			if err != nil {
				t.Fatal(err)
			}
			q, sep := u.Query(), "?"
			if r.ResponseType == oauth.ResponseToken { // §4.2.2.1: in the fragment
				q, sep = mustParseQuery(t, u.Fragment), "#"
			}
			if !strings.HasPrefix(u.String(), fixtureCallback+sep) || q.Get("error") != tt.code ||
				q.Get("error_description") == "" || q.Get("state") != "s1" {
				t.Fatalf("error redirect %s", u)
			}
		})
	}
	t.Run("repeated parameter", func(t *testing.T) {
		_, oerr := oauth.ParseAuthorizeRequest("response_type=code&client_id=a&client_id=b")
		wantErr(t, oerr, oauth.ErrCodeInvalidRequest)
	})
	t.Run("deny", func(t *testing.T) {
		r, _ := oauth.ParseAuthorizeRequest("response_type=code&client_id=" + c.ConsumerKey + "&state=a%20b")
		a, oerr := f.srv.CheckAuthorize(ctx, r)
		if oerr != nil {
			t.Fatal(oerr)
		}
		got := a.ErrorURL(oauth.ErrAccessDenied("the user denied access"))
		if !strings.HasPrefix(got, fixtureCallback+"?error=access_denied&") || !strings.HasSuffix(got, "&state=a+b") {
			t.Fatalf("deny redirect %s", got)
		}
	})
}

func TestAuthorizationCodeGrant(t *testing.T) {
	f := newAuthzFixture(t)
	c := f.newApp(t, codeGrants...)
	other := f.newApp(t, codeGrants...)
	verifier := oauth.NewSecret() + "-verifier"
	pkce := "&code_challenge=" + s256(verifier) + "&code_challenge_method=S256"

	t.Run("S256 exchange, then replay revokes", func(t *testing.T) {
		code := f.code(t, c, pkce)
		resp, oerr := f.exchange(c, code, "", verifier)
		if oerr != nil {
			t.Fatal(oerr)
		}
		if resp.RefreshToken == "" || resp.Scope != "read" || resp.TokenType != "Bearer" || resp.ExpiresIn != 3600 {
			t.Fatalf("response %+v", resp)
		}
		refreshed, oerr := f.srv.Token(context.Background(), &oauth.TokenRequest{GrantType: oauth.GrantRefreshToken,
			ClientID: c.ConsumerKey, ClientSecret: c.Secret, RefreshToken: resp.RefreshToken})
		if oerr != nil {
			t.Fatal(oerr)
		}
		if !f.valid(t, resp.AccessToken) || !f.valid(t, refreshed.AccessToken) {
			t.Fatal("tokens not valid before the replay")
		}
		// Another client presenting the used code (leaked, say) is refused
		// without ending the rightful client's tokens.
		_, oerr = f.exchange(other, code, "", verifier)
		wantErr(t, oerr, oauth.ErrCodeInvalidGrant)
		if !f.valid(t, resp.AccessToken) || !f.valid(t, refreshed.AccessToken) {
			t.Fatal("another client's use of the code revoked its tokens")
		}
		_, oerr = f.exchange(c, code, "", verifier)
		wantErr(t, oerr, oauth.ErrCodeInvalidGrant)
		if f.valid(t, resp.AccessToken) || f.valid(t, refreshed.AccessToken) {
			t.Fatal("a replayed code left its tokens valid")
		}
	})
	t.Run("plain", func(t *testing.T) {
		code := f.code(t, c, "&code_challenge="+verifier)
		if _, oerr := f.exchange(c, code, "", verifier); oerr != nil {
			t.Fatal(oerr)
		}
	})
	t.Run("redirect_uri sent at both steps", func(t *testing.T) {
		code := f.code(t, c, "&redirect_uri="+url.QueryEscape(fixtureCallback))
		_, oerr := f.exchange(c, code, "", "")
		wantErr(t, oerr, oauth.ErrCodeInvalidGrant)
		if _, oerr := f.exchange(c, code, fixtureCallback, ""); oerr != nil {
			t.Fatal(oerr)
		}
	})
	t.Run("redirect_uri only at the token endpoint", func(t *testing.T) {
		code := f.code(t, c, "")
		if _, oerr := f.exchange(c, code, fixtureCallback, ""); oerr != nil {
			t.Fatal(oerr)
		}
	})

	failures := []struct {
		name, extra, redirect, verifier string
		client                          fixture.Key
		wait                            time.Duration
	}{
		{name: "wrong verifier", extra: pkce, verifier: oauth.NewSecret()},
		{name: "missing verifier", extra: pkce},
		{name: "malformed verifier", extra: pkce, verifier: "short"},
		{name: "verifier without challenge (downgrade)", verifier: verifier},
		{name: "wrong redirect_uri", redirect: fixtureCallback + "/other"},
		{name: "another client", client: other},
		{name: "expired", wait: 5 * time.Minute},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			code := f.code(t, c, tt.extra)
			f.clock.Advance(tt.wait)
			client := c
			if tt.client.ConsumerKey != "" {
				client = tt.client
			}
			_, oerr := f.exchange(client, code, tt.redirect, tt.verifier)
			wantErr(t, oerr, oauth.ErrCodeInvalidGrant)
		})
	}
	t.Run("unknown code", func(t *testing.T) {
		_, oerr := f.exchange(c, oauth.NewSecret(), "", "")
		wantErr(t, oerr, oauth.ErrCodeInvalidGrant)
	})
	t.Run("missing code", func(t *testing.T) {
		_, oerr := f.exchange(c, "", "", "")
		wantErr(t, oerr, oauth.ErrCodeInvalidRequest)
	})
	t.Run("grant not enabled", func(t *testing.T) {
		pw := f.newApp(t, oauth.GrantPassword)
		_, oerr := f.exchange(pw, "x", "", "")
		wantErr(t, oerr, oauth.ErrCodeUnauthorizedClient)
	})
	t.Run("stale codes are cleaned up, redeemed ones kept while their tokens live", func(t *testing.T) {
		ctx := context.Background()
		used, unused := f.code(t, c, ""), f.code(t, c, "")
		if _, oerr := f.exchange(c, used, "", ""); oerr != nil {
			t.Fatal(oerr)
		}
		f.clock.Advance(time.Hour - time.Second)
		if _, err := f.db.DeleteStaleCodes(ctx, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.CodeByHash(ctx, oauth.HashOf(used)); err != nil {
			t.Fatalf("a redeemed code with live tokens was deleted: %v", err)
		}
		if _, err := f.db.CodeByHash(ctx, oauth.HashOf(unused)); !errors.Is(err, oauth.ErrNotFound) {
			t.Fatalf("an expired unused code was kept: %v", err)
		}
	})
}

func TestImplicitGrant(t *testing.T) {
	f := newAuthzFixture(t)
	c := f.newApp(t, oauth.GrantImplicit, oauth.GrantRefreshToken)
	u := f.approve(t, "response_type=token&client_id="+c.ConsumerKey+"&scope=read%20admin&state=s%2F1")
	if u.RawQuery != "" || !strings.HasPrefix(u.String(), fixtureCallback+"#") {
		t.Fatalf("implicit redirect %s: the token must be in the fragment only", u)
	}
	frag := mustParseQuery(t, u.Fragment)
	if frag.Get("token_type") != "Bearer" || frag.Get("expires_in") != "3600" || frag.Get("state") != "s/1" ||
		frag.Get("scope") != "read" || frag.Has("refresh_token") {
		t.Fatalf("fragment %v", frag)
	}
	if !f.valid(t, frag.Get("access_token")) {
		t.Fatal("implicit token not valid")
	}
	t.Run("errors go in the fragment too", func(t *testing.T) {
		r, _ := oauth.ParseAuthorizeRequest("response_type=token&client_id=" + c.ConsumerKey + "&state=s")
		a, _ := f.srv.CheckAuthorize(context.Background(), r)
		if got := a.ErrorURL(oauth.ErrAccessDenied("no")); got != fixtureCallback+"#error=access_denied&error_description=no&state=s" {
			t.Fatalf("error redirect %s", got)
		}
	})
}
