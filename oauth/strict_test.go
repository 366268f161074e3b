package oauth_test

import (
	"context"
	"slices"
	"testing"

	"github.com/apistore/apistore/oauth"
)

// TestStrictMode: Strict refuses the password grant and the implicit grant,
// requires PKCE with S256, and says so in the metadata; the other grants
// work as before.
func TestStrictMode(t *testing.T) {
	f := newAuthzFixture(t)
	f.srv.Strict()
	c := f.newApp(t, oauth.AllGrantTypes...)
	ctx := context.Background()

	_, oerr := f.srv.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantPassword, ClientID: c.ConsumerKey,
		ClientSecret: c.Secret, Username: "alice", Password: "alice-password"})
	if oerr == nil || oerr.Code != oauth.ErrCodeUnsupportedGrantType {
		t.Errorf("password grant: %v", oerr)
	}
	if _, oerr := f.srv.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, ClientID: c.ConsumerKey,
		ClientSecret: c.Secret}); oerr != nil {
		t.Errorf("client_credentials: %v", oerr)
	}
	for _, tt := range []struct{ name, query, code string }{
		{"implicit", "response_type=token", oauth.ErrCodeUnsupportedResponse},
		{"code without PKCE", "response_type=code", oauth.ErrCodeInvalidRequest},
		{"plain PKCE", "response_type=code&code_challenge=" + s256("v") + "&code_challenge_method=plain", oauth.ErrCodeInvalidRequest},
		{"PKCE without method (plain)", "response_type=code&code_challenge=" + s256("v"), oauth.ErrCodeInvalidRequest},
		{"S256", "response_type=code&code_challenge=" + s256("v") + "&code_challenge_method=S256", ""},
	} {
		r, perr := oauth.ParseAuthorizeRequest(tt.query + "&client_id=" + c.ConsumerKey)
		if perr != nil {
			t.Fatal(perr)
		}
		a, oerr := f.srv.CheckAuthorize(ctx, r)
		got := ""
		if oerr != nil {
			got = oerr.Code
		}
		if got != tt.code || a == nil {
			t.Errorf("%s: %v (sent back to the client: %v), want %q", tt.name, oerr, a != nil, tt.code)
		}
	}
	m := f.srv.Metadata("https://localhost:8243", nil)
	if slices.Contains(m.GrantTypesSupported, oauth.GrantPassword) || slices.Contains(m.GrantTypesSupported, oauth.GrantImplicit) ||
		!slices.Equal(m.ResponseTypesSupported, []string{"code"}) || !slices.Equal(m.CodeChallengeMethodsSupported, []string{"S256"}) {
		t.Errorf("strict metadata: %+v", m)
	}
}
