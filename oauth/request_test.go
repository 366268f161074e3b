package oauth_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apistore/apistore/oauth"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseBasicAuth(t *testing.T) {
	tests := []struct {
		header, id, secret string
		ok                 bool
	}{
		{"Basic " + b64("key:secret"), "key", "secret", true},
		{"basic " + b64("key:secret"), "key", "secret", true},
		{"Basic " + b64("key:sec:ret"), "key", "sec:ret", true},
		// WSO2 docs: two headers written as one, and a trailing comma.
		{"Basic " + b64("key:secret") + ", Content-Type: application/x-www-form-urlencoded", "key", "secret", true},
		{"Basic " + b64("key:secret") + ",", "key", "secret", true},
		{"Basic " + strings.TrimRight(b64("key:secre"), "="), "key", "secre", true},
		// RFC 6749 §2.3.1: form-encoded before base64.
		{"Basic " + b64("a%2Bb:c%20d"), "a+b", "c d", true},
		{"Bearer " + b64("key:secret"), "", "", false},
		{"Basic", "", "", false},
		{"Basic !!!", "", "", false},
		{"Basic " + b64("no-colon"), "", "", false},
		{"Basic " + b64(":secret"), "", "", false},
		{"Basic " + b64("key:%zz"), "", "", false},
		{"Basic " + b64("key:\xff"), "", "", false},
	}
	for _, tt := range tests {
		id, secret, ok := oauth.ParseBasicAuth(tt.header)
		if id != tt.id || secret != tt.secret || ok != tt.ok {
			t.Errorf("ParseBasicAuth(%q) = %q, %q, %v; want %q, %q, %v", tt.header, id, secret, ok, tt.id, tt.secret, tt.ok)
		}
	}
}

func TestParseTokenRequest(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	basic := "Basic " + b64("key:secret")
	tests := []struct {
		name, contentType, auth, body string
		want                          *oauth.TokenRequest
		wantErr                       string
	}{
		{"password with scopes, unencoded space as curl -d sends it", form, basic,
			"grant_type=password&username=alice&password=p;w&scope=read update",
			&oauth.TokenRequest{GrantType: "password", ClientID: "key", ClientSecret: "secret", Username: "alice",
				Password: "p;w", Scope: []string{"read", "update"}}, ""},
		{"credentials in the body", form + "; charset=UTF-8", "",
			"grant_type=client_credentials&client_id=key&client_secret=secret&scope=read+read",
			&oauth.TokenRequest{GrantType: "client_credentials", ClientID: "key", ClientSecret: "secret", Scope: []string{"read"}}, ""},
		{"client_id repeated in the body with the header is fine", form, basic, "grant_type=client_credentials&client_id=key",
			&oauth.TokenRequest{GrantType: "client_credentials", ClientID: "key", ClientSecret: "secret"}, ""},
		{"empty parameter counts as omitted", form, basic, "grant_type=client_credentials&scope=",
			&oauth.TokenRequest{GrantType: "client_credentials", ClientID: "key", ClientSecret: "secret"}, ""},
		{"both auth methods", form, basic, "grant_type=client_credentials&client_secret=secret", nil, "invalid_request"},
		{"different client ids", form, basic, "grant_type=client_credentials&client_id=other", nil, "invalid_request"},
		{"repeated parameter", form, basic, "grant_type=password&username=a&username=b&password=x", nil, "invalid_request"},
		{"missing grant_type", form, basic, "username=a", nil, "invalid_request"},
		{"JSON body", "application/json", basic, `{"grant_type":"password"}`, nil, "invalid_request"},
		{"no content type", "", basic, "grant_type=password", nil, "invalid_request"},
		{"bad escape", form, basic, "grant_type=password&password=%zz", nil, "invalid_request"},
		{"invalid UTF-8", form, basic, "grant_type=password&username=%ff", nil, "invalid_request"},
		{"not Basic", form, "Bearer abc", "grant_type=client_credentials", nil, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oauth.ParseTokenRequest(tt.contentType, tt.auth, tt.body)
			if tt.wantErr != "" {
				if err == nil || err.Code != tt.wantErr {
					t.Fatalf("got %+v, %v; want %s", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.GrantType != tt.want.GrantType || got.ClientID != tt.want.ClientID || got.ClientSecret != tt.want.ClientSecret ||
				got.Username != tt.want.Username || got.Password != tt.want.Password ||
				strings.Join(got.Scope, "|") != strings.Join(tt.want.Scope, "|") {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckRedirectURI(t *testing.T) {
	good := []string{"https://app.example.com/cb", "https://app.example.com:8443/cb?x=1", "http://localhost:3000/cb",
		"http://127.0.0.1/cb", "http://[::1]:9000/cb"}
	bad := []string{"", "/cb", "app.example.com/cb", "http://app.example.com/cb", "https://app.example.com/cb#frag",
		"ftp://app.example.com/cb", "https://user:pw@app.example.com/cb", "javascript:alert(1)"}
	for _, u := range good {
		if err := oauth.CheckRedirectURI(u); err != nil {
			t.Errorf("CheckRedirectURI(%q) = %v", u, err)
		}
	}
	for _, u := range bad {
		if err := oauth.CheckRedirectURI(u); err == nil {
			t.Errorf("CheckRedirectURI(%q) accepted", u)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := oauth.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	if !oauth.CheckPassword(h, "correct horse") || oauth.CheckPassword(h, "correct horsE") || oauth.CheckPassword("", "") ||
		oauth.CheckPassword("$argon2id$v=19$m=1,t=1,p=1$!!$!!", "x") {
		t.Fatal("CheckPassword disagrees with HashPassword")
	}
}

func FuzzParseBasicAuth(f *testing.F) {
	f.Add("Basic " + b64("key:secret"))
	f.Add("Basic " + b64("key:secret") + ", Content-Type: application/x-www-form-urlencoded")
	f.Add("basic a2V5")
	f.Fuzz(func(t *testing.T, header string) {
		id, secret, ok := oauth.ParseBasicAuth(header)
		if ok && (id == "" || !utf8.ValidString(id) || !utf8.ValidString(secret)) {
			t.Fatalf("ParseBasicAuth(%q) = %q, %q", header, id, secret)
		}
		if !ok && (id != "" || secret != "") {
			t.Fatalf("failure returned values")
		}
	})
}

func FuzzParseForm(f *testing.F) {
	f.Add("grant_type=password&username=a&password=b&scope=read update")
	f.Add("a=%zz&b=;&&=")
	f.Fuzz(func(t *testing.T, body string) {
		values, err := oauth.ParseForm(body, []string{"grant_type", "scope"})
		if err != nil {
			if err.Code != oauth.ErrCodeInvalidRequest || err.Status != 400 {
				t.Fatalf("error %+v", err)
			}
			return
		}
		for k, v := range values {
			if v == "" {
				t.Fatalf("empty value kept for %q", k)
			}
		}
		for _, s := range oauth.ParseScope(values["scope"]) {
			if s == "" || strings.ContainsAny(s, " \t\n") {
				t.Fatalf("bad scope token %q", s)
			}
		}
	})
}

// TestScopeLimits: a request may name at most oauth.MaxScopes scopes, at
// the token endpoint and in an authorization request alike; more is a
// clear invalid_request, not work proportional to their square.
func TestScopeLimits(t *testing.T) {
	names := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "s%d ", i)
		}
		return b.String()
	}
	form := "application/x-www-form-urlencoded"
	basic := "Basic " + b64("key:secret")
	r, err := oauth.ParseTokenRequest(form, basic, "grant_type=client_credentials&scope="+url.QueryEscape(names(oauth.MaxScopes)))
	if err != nil || len(r.Scope) != oauth.MaxScopes {
		t.Fatalf("%d scopes: %v", oauth.MaxScopes, err)
	}
	// Repeats count too: they are as much to parse.
	for _, scope := range []string{names(oauth.MaxScopes + 1), strings.Repeat("read ", oauth.MaxScopes+1), names(64_000)} {
		_, err = oauth.ParseTokenRequest(form, basic, "grant_type=client_credentials&scope="+url.QueryEscape(scope))
		if err == nil || err.Code != oauth.ErrCodeInvalidRequest || err.Status != 400 || !strings.Contains(err.Description, "at most 200 scopes") {
			t.Errorf("token request with %d scope names: %v", len(strings.Fields(scope)), err)
		}
		_, err = oauth.ParseAuthorizeRequest("response_type=code&client_id=k&scope=" + url.QueryEscape(scope))
		if err == nil || err.Code != oauth.ErrCodeInvalidRequest || !strings.Contains(err.Description, "at most 200 scopes") {
			t.Errorf("authorization request with %d scope names: %v", len(strings.Fields(scope)), err)
		}
	}
}

// TestParseScope: duplicates go, the first occurrence's order stays, with
// few names and with many (a set takes over past a handful).
func TestParseScope(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  read  ", "read"},
		{"read write read", "read write"},
		{"a b c d e f g h i j a b k c l", "a b c d e f g h i j k l"},
		{"z y x w v u t s r q p o n m l k j z y x m", "z y x w v u t s r q p o n m l k j"},
	}
	for _, tt := range tests {
		if got := strings.Join(oauth.ParseScope(tt.in), " "); got != tt.want {
			t.Errorf("ParseScope(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestParseScopeIsLinear: 64,000 names cost about 64 times what 1,000 do,
// not 64² times as when each name was compared with every earlier one (11 s
// of CPU for one anonymous /authorize). The bound is loose (8 times the
// linear figure) for a shared machine; the quadratic cost was 64 times it.
func TestParseScopeIsLinear(t *testing.T) {
	small, large := scopeList(1000), scopeList(64_000)
	best := func(s string, times int) time.Duration {
		fastest := time.Duration(1 << 62)
		for range 5 {
			start := time.Now()
			for range times {
				oauth.ParseScope(s)
			}
			fastest = min(fastest, time.Since(start))
		}
		return fastest
	}
	linear, got := best(small, 64), best(large, 1)
	if got > 8*linear {
		t.Errorf("64,000 names took %v; 64 times 1,000 names took %v", got, linear)
	}
}

// scopeList is a scope parameter of n distinct names.
func scopeList(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "scope%d ", i)
	}
	return b.String()
}
