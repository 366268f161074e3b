package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// Tokens for the revocation tests come from the authorization
// code grant (with a refresh token) and the implicit grant (without).
func (f *authzFixture) codeTokens(t *testing.T, c fixture.Key) *oauth.TokenResponse {
	t.Helper()
	resp, oerr := f.exchange(c, f.code(t, c, ""), "", "")
	if oerr != nil {
		t.Fatal(oerr)
	}
	return resp
}

func (f *authzFixture) implicitToken(t *testing.T, c fixture.Key) string {
	t.Helper()
	u := f.approve(t, "response_type=token&client_id="+c.ConsumerKey)
	v, err := url.ParseQuery(u.Fragment)
	if err != nil {
		t.Fatal(err)
	}
	return v.Get("access_token")
}

func (f *authzFixture) refresh(c fixture.Key, refreshToken string) (*oauth.TokenResponse, *oauth.Error) {
	return f.srv.Token(context.Background(), &oauth.TokenRequest{GrantType: oauth.GrantRefreshToken,
		ClientID: c.ConsumerKey, ClientSecret: c.Secret, RefreshToken: refreshToken})
}

func TestRevoke(t *testing.T) {
	f := newAuthzFixture(t)
	grants := []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantImplicit}
	c, other := f.newApp(t, grants...), f.newApp(t, grants...)
	ctx := context.Background()
	revoke := func(client fixture.Key, secret, token, hint string) (*oauth.Revocation, *oauth.Error) {
		return f.srv.Revoke(ctx, &oauth.TokenHintRequest{Token: token, TokenTypeHint: hint,
			ClientID: client.ConsumerKey, ClientSecret: secret})
	}

	t.Run("access token ends its refresh token", func(t *testing.T) {
		tok := f.codeTokens(t, c)
		rev, oerr := revoke(c, c.Secret, tok.AccessToken, "")
		if oerr != nil {
			t.Fatal(oerr)
		}
		want := oauth.Revocation{AccessToken: tok.AccessToken, RefreshToken: oauth.HashOf(tok.RefreshToken).String(), Username: "alice@carbon.super"}
		if rev == nil || *rev != want {
			t.Fatalf("revocation %+v, want %+v", rev, want)
		}
		if f.valid(t, tok.AccessToken) {
			t.Fatal("access token still valid")
		}
		if _, oerr := f.refresh(c, tok.RefreshToken); oerr == nil {
			t.Fatal("refresh token still works")
		}
	})
	t.Run("refresh token ends every access token of its chain", func(t *testing.T) {
		first := f.codeTokens(t, c)
		second, oerr := f.refresh(c, first.RefreshToken)
		if oerr != nil {
			t.Fatal(oerr)
		}
		// A wrong hint is only a hint (RFC 7009 §2.1).
		rev, oerr := revoke(c, c.Secret, second.RefreshToken, oauth.HintAccessToken)
		if oerr != nil || rev == nil || rev.RefreshToken != second.RefreshToken || rev.AccessToken != oauth.HashOf(second.AccessToken).String() {
			t.Fatalf("revocation %+v, %v", rev, oerr)
		}
		if f.valid(t, first.AccessToken) || f.valid(t, second.AccessToken) {
			t.Fatal("an access token of the chain is still valid")
		}
	})
	t.Run("hinted refresh token", func(t *testing.T) {
		tok := f.codeTokens(t, c)
		if rev, oerr := revoke(c, c.Secret, tok.RefreshToken, oauth.HintRefreshToken); oerr != nil || rev == nil {
			t.Fatalf("revocation %+v, %v", rev, oerr)
		}
		if f.valid(t, tok.AccessToken) {
			t.Fatal("access token still valid")
		}
	})
	t.Run("unknown or already revoked token: nothing, no error", func(t *testing.T) {
		tok := f.codeTokens(t, c)
		for _, token := range []string{oauth.NewSecret(), tok.AccessToken} {
			if _, oerr := revoke(c, c.Secret, tok.AccessToken, ""); oerr != nil {
				t.Fatal(oerr)
			}
			if rev, oerr := revoke(c, c.Secret, token, ""); rev != nil || oerr != nil {
				t.Fatalf("revocation %+v, %v", rev, oerr)
			}
		}
	})
	t.Run("another client's token stays valid", func(t *testing.T) {
		tok := f.codeTokens(t, c)
		if rev, oerr := revoke(other, other.Secret, tok.AccessToken, ""); rev != nil || oerr != nil {
			t.Fatalf("revocation %+v, %v", rev, oerr)
		}
		if rev, oerr := revoke(other, "", f.implicitToken(t, c), ""); rev != nil || oerr != nil {
			t.Fatalf("revocation %+v, %v", rev, oerr)
		}
		if !f.valid(t, tok.AccessToken) {
			t.Fatal("another client revoked the token")
		}
	})
	t.Run("implicit token with client_id alone", func(t *testing.T) {
		token := f.implicitToken(t, c)
		rev, oerr := revoke(c, "", token, oauth.HintAccessToken)
		if oerr != nil || rev == nil || rev.AccessToken != token || rev.RefreshToken != "" {
			t.Fatalf("revocation %+v, %v", rev, oerr)
		}
		if f.valid(t, token) {
			t.Fatal("implicit token still valid")
		}
	})
	t.Run("other tokens need the secret", func(t *testing.T) {
		tok := f.codeTokens(t, c)
		_, oerr := revoke(c, "", tok.AccessToken, "")
		wantErr(t, oerr, oauth.ErrCodeInvalidClient)
		_, oerr = revoke(c, "wrong", tok.AccessToken, "")
		wantErr(t, oerr, oauth.ErrCodeInvalidClient)
		if !f.valid(t, tok.AccessToken) {
			t.Fatal("revoked without client authentication")
		}
	})
	t.Run("unknown client", func(t *testing.T) {
		_, oerr := f.srv.Revoke(ctx, &oauth.TokenHintRequest{Token: "x", ClientID: "nobody"})
		wantErr(t, oerr, oauth.ErrCodeInvalidClient)
	})
	t.Run("the generation moves", func(t *testing.T) {
		tok := f.codeTokens(t, c)
		gen := fixture.Generation(t, f.db)
		if _, oerr := revoke(c, c.Secret, tok.AccessToken, ""); oerr != nil {
			t.Fatal(oerr)
		}
		if fixture.Generation(t, f.db) == gen {
			t.Fatal("revocation did not bump the access generation")
		}
	})
}

func TestIntrospect(t *testing.T) {
	f := newAuthzFixture(t)
	c, other := f.newApp(t, codeGrants...), f.newApp(t, codeGrants...)
	tok := f.codeTokens(t, c)
	ctx := context.Background()
	introspect := func(client fixture.Key, token string) *oauth.Introspection {
		t.Helper()
		got, oerr := f.srv.Introspect(ctx, &oauth.TokenHintRequest{Token: token, ClientID: client.ConsumerKey, ClientSecret: client.Secret})
		if oerr != nil {
			t.Fatal(oerr)
		}
		return got
	}
	issued := f.clock.Now().Unix()
	want := oauth.Introspection{Active: true, Scope: "read", ClientID: c.ConsumerKey, Username: "alice@carbon.super", Sub: "alice@carbon.super",
		TokenType: "Bearer", Iat: issued, Exp: issued + 3600}
	if got := introspect(c, tok.AccessToken); *got != want {
		t.Fatalf("introspection %+v, want %+v", got, want)
	}
	want.TokenType, want.Exp = "", issued+86400
	if got := introspect(c, tok.RefreshToken); *got != want {
		t.Fatalf("refresh token introspection %+v, want %+v", got, want)
	}
	inactive := oauth.Introspection{}
	if got := introspect(other, tok.AccessToken); *got != inactive {
		t.Fatalf("another client's token: %+v", got)
	}
	if got := introspect(c, oauth.NewSecret()); *got != inactive {
		t.Fatalf("unknown token: %+v", got)
	}
	_, oerr := f.srv.Introspect(ctx, &oauth.TokenHintRequest{Token: tok.AccessToken, ClientID: c.ConsumerKey})
	wantErr(t, oerr, oauth.ErrCodeInvalidClient)

	f.clock.Advance(time.Hour)
	if got := introspect(c, tok.AccessToken); *got != inactive {
		t.Fatalf("expired token: %+v", got)
	}
	if got := introspect(c, tok.RefreshToken); !got.Active {
		t.Fatalf("refresh token outlives its access token: %+v", got)
	}
	if _, oerr := f.refresh(c, tok.RefreshToken); oerr != nil {
		t.Fatal(oerr)
	}
	if got := introspect(c, tok.RefreshToken); *got != inactive {
		t.Fatalf("used refresh token: %+v", got)
	}
}

// unavailableStore cannot revoke for now, as a PostgreSQL node holding its
// token writes while it finds out whether the partitioning changed.
type unavailableStore struct{ db.Store }

func (unavailableStore) RevokeToken(context.Context, oauth.Hash) error {
	return fmt.Errorf("revoke token: %w", oauth.ErrUnavailable)
}

// TestRevokeStoreUnavailable: a store that cannot write for now makes the
// revocation answer server_error with 503, which a client may retry, not
// 500.
func TestRevokeStoreUnavailable(t *testing.T) {
	e := newEnv(t, oauth.Validity{}, oauth.GrantClientCredentials)
	tok := e.mustToken(t, oauth.TokenRequest{GrantType: oauth.GrantClientCredentials})
	srv := oauth.NewServer(unavailableStore{e.db}, oauth.Validity{}, e.clock.Now)
	_, oerr := srv.Revoke(context.Background(), &oauth.TokenHintRequest{Token: tok.AccessToken,
		ClientID: e.key.ConsumerKey, ClientSecret: e.key.Secret})
	if oerr == nil || oerr.Code != oauth.ErrCodeServerError || oerr.Status != http.StatusServiceUnavailable {
		t.Errorf("revoking with the store unavailable: %v; want server_error with 503", oerr)
	}
}
