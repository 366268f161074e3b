package oauth_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apistore/apistore/oauth"
)

// FuzzParseScope: ParseScope gives what the obvious quadratic
// de-duplication gives (the first of each name, in order), with no empty
// name and no whitespace in one.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"read update", "a b c d e f g h i j a k b", " \t\n", "a\u00a0b a", "\xff \xff x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want []string
		for _, name := range strings.Fields(s) {
			if !slices.Contains(want, name) {
				want = append(want, name)
			}
		}
		if got := oauth.ParseScope(s); !slices.Equal(got, want) {
			t.Fatalf("ParseScope(%q) = %q, want %q", s, got, want)
		}
	})
}

// FuzzParseTokenRequest: whatever the Content-Type, Authorization header
// and body, parsing a token request answers an invalid_request or
// invalid_client of RFC 6749 §5.2, or a request with a grant type, at most
// MaxScopes distinct scope names and UTF-8 credentials.
func FuzzParseTokenRequest(f *testing.F) {
	form := "application/x-www-form-urlencoded"
	f.Add(form, "Basic "+b64("key:secret"), "grant_type=password&username=alice&password=p;w&scope=read update read")
	f.Add(form+"; charset=UTF-8", "", "grant_type=client_credentials&client_id=k&client_secret=s&scope=%20")
	f.Add("application/json", "Bearer x", `{"grant_type":"password"}`)
	f.Add(form, "Basic "+b64("key:secret"), "grant_type=refresh_token&refresh_token=r&scope="+strings.Repeat("s ", 201))
	f.Add(form, "Basic "+b64("a%zz:b"), "grant_type=x&client_secret=y")
	f.Fuzz(func(t *testing.T, contentType, authorization, body string) {
		r, oerr := oauth.ParseTokenRequest(contentType, authorization, body)
		if oerr != nil {
			if (oerr.Code != oauth.ErrCodeInvalidRequest || oerr.Status != http.StatusBadRequest) &&
				(oerr.Code != oauth.ErrCodeInvalidClient || oerr.Status != http.StatusUnauthorized) {
				t.Fatalf("error %+v", oerr)
			}
			return
		}
		if r.GrantType == "" || len(r.Scope) > oauth.MaxScopes {
			t.Fatalf("parsed %+v", r)
		}
		if !utf8.ValidString(r.ClientID) || !utf8.ValidString(r.ClientSecret) {
			t.Fatalf("credentials not UTF-8: %q %q", r.ClientID, r.ClientSecret)
		}
		checkScopes(t, r.Scope)
	})
}

// FuzzParseTokenHintRequest: a revocation or introspection request parses
// to a token and a client, or to invalid_request or invalid_client.
func FuzzParseTokenHintRequest(f *testing.F) {
	form := "application/x-www-form-urlencoded"
	f.Add(form, "Basic "+b64("key:secret"), "token=abc&token_type_hint=refresh_token")
	f.Add(form, "", "token=abc&client_id=k")
	f.Add(form, "Basic "+b64("key:secret"), "token=a&token=b")
	f.Add("text/plain", "", "token=a")
	f.Fuzz(func(t *testing.T, contentType, authorization, body string) {
		r, oerr := oauth.ParseTokenHintRequest(contentType, authorization, body)
		if oerr != nil {
			if oerr.Code != oauth.ErrCodeInvalidRequest && oerr.Code != oauth.ErrCodeInvalidClient {
				t.Fatalf("error %+v", oerr)
			}
			return
		}
		if r.Token == "" || r.ClientID == "" || !utf8.ValidString(r.Token) || !utf8.ValidString(r.ClientID) {
			t.Fatalf("parsed %+v", r)
		}
	})
}

// checkScopes fails on an empty or repeated scope name or one with spaces.
func checkScopes(t *testing.T, scopes []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\n") || seen[s] {
			t.Fatalf("scopes %q", scopes)
		}
		seen[s] = true
	}
}
