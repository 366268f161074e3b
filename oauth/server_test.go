package oauth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// env is a server with a settable clock over fixture.Docs's database.
type env struct {
	srv   *oauth.Server
	db    db.Store
	clock *fixture.Clock
	key   fixture.Key // alice's production key
}

func newEnv(t *testing.T, validity oauth.Validity, grants ...string) *env {
	t.Helper()
	d, key := fixture.Docs(t, grants...)
	c := fixture.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return &env{srv: oauth.NewServer(d, validity, c.Now), db: d, clock: c, key: key}
}

func (e *env) token(t *testing.T, r oauth.TokenRequest) (*oauth.TokenResponse, *oauth.Error) {
	t.Helper()
	if r.ClientID == "" {
		r.ClientID, r.ClientSecret = e.key.ConsumerKey, e.key.Secret
	}
	return e.srv.Token(context.Background(), &r)
}

func (e *env) mustToken(t *testing.T, r oauth.TokenRequest) *oauth.TokenResponse {
	t.Helper()
	resp, err := e.token(t, r)
	if err != nil {
		t.Fatalf("token request %+v: %v", r, err)
	}
	return resp
}

func TestGrants(t *testing.T) {
	e := newEnv(t, oauth.Validity{})
	tests := []struct {
		name        string
		req         oauth.TokenRequest
		wantScope   string
		wantRefresh bool
		wantUser    string
		wantErr     string
	}{
		{"password, no scope", oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"},
			"default", true, "alice@carbon.super", ""},
		{"password, username in another case", oauth.TokenRequest{GrantType: "password", Username: "ALICE", Password: "alice-password"},
			"default", true, "alice@carbon.super", ""},
		{"password, scopes narrowed by role", oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password",
			Scope: []string{"read", "update", "unknown"}}, "read", true, "alice@carbon.super", ""},
		{"password, admin gets both", oauth.TokenRequest{GrantType: "password", Username: "root", Password: "root-password",
			Scope: []string{"read", "update"}}, "read update", true, "root@carbon.super", ""},
		{"password, WSO2 PRODUCTION scope is dropped", oauth.TokenRequest{GrantType: "password", Username: "alice",
			Password: "alice-password", Scope: []string{"PRODUCTION"}}, "default", true, "alice@carbon.super", ""},
		{"client_credentials on behalf of the owner", oauth.TokenRequest{GrantType: "client_credentials",
			Scope: []string{"update", "read"}}, "read", false, "alice@carbon.super", ""},
		{"wrong password", oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "nope"},
			"", false, "", "invalid_grant"},
		{"unknown user", oauth.TokenRequest{GrantType: "password", Username: "bob", Password: "alice-password"},
			"", false, "", "invalid_grant"},
		{"missing password", oauth.TokenRequest{GrantType: "password", Username: "alice"},
			"", false, "", "invalid_request"},
		{"wrong secret", oauth.TokenRequest{GrantType: "client_credentials", ClientID: e.key.ConsumerKey, ClientSecret: "x"},
			"", false, "", "invalid_client"},
		{"unknown client", oauth.TokenRequest{GrantType: "client_credentials", ClientID: "nobody", ClientSecret: "x"},
			"", false, "", "invalid_client"},
		{"unsupported grant", oauth.TokenRequest{GrantType: "urn:example:magic"},
			"", false, "", "unsupported_grant_type"},
		{"unknown refresh token", oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: "nope"},
			"", false, "", "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.token(t, tt.req)
			if tt.wantErr != "" {
				if err == nil || err.Code != tt.wantErr {
					t.Fatalf("got %v, %v; want error %s", resp, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Scope != tt.wantScope || resp.TokenType != "Bearer" || resp.ExpiresIn != 3600 {
				t.Errorf("response %+v, want scope %q, Bearer, 3600 s", resp, tt.wantScope)
			}
			if (resp.RefreshToken != "") != tt.wantRefresh {
				t.Errorf("refresh token %q, want one: %v", resp.RefreshToken, tt.wantRefresh)
			}
			info, verr := e.srv.Validate(context.Background(), resp.AccessToken)
			if verr != nil {
				t.Fatal(verr)
			}
			if info.Username != tt.wantUser || info.ConsumerKey != e.key.ConsumerKey || info.KeyType != oauth.Production ||
				info.AppName != "AliceApp" || strings.Join(info.Scopes, " ") != tt.wantScope {
				t.Errorf("validated %+v", info)
			}
		})
	}
}

func TestGrantNotAllowedForKey(t *testing.T) {
	e := newEnv(t, oauth.Validity{}, oauth.GrantClientCredentials)
	_, err := e.token(t, oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"})
	if err == nil || err.Code != oauth.ErrCodeUnauthorizedClient {
		t.Fatalf("got %v, want unauthorized_client", err)
	}
	// Without the refresh_token grant no refresh token is handed out either.
	e2 := newEnv(t, oauth.Validity{}, oauth.GrantPassword)
	resp := e2.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"})
	if resp.RefreshToken != "" {
		t.Fatal("refresh token issued to a key without the refresh_token grant")
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name      string
		validity  oauth.Validity
		grant     oauth.TokenRequest
		expiresIn int64
		alive     time.Duration // still valid this long after issue
		dead      time.Duration // invalid this long after issue (0: never)
	}{
		{"user token default 3600 s", oauth.Validity{}, oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"},
			3600, 3599 * time.Second, 3600 * time.Second},
		{"application token set to 120 s", oauth.Validity{AppToken: 2 * time.Minute}, oauth.TokenRequest{GrantType: "client_credentials"},
			120, 119 * time.Second, 120 * time.Second},
		{"never-expiring application token", oauth.Validity{AppToken: -1}, oauth.TokenRequest{GrantType: "client_credentials"},
			0, 100 * 365 * 24 * time.Hour, 0},
		{"never-expiring user token", oauth.Validity{UserToken: -time.Second}, oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"},
			0, 100 * 365 * 24 * time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.validity)
			issued := e.clock.Now()
			resp := e.mustToken(t, tt.grant)
			if resp.ExpiresIn != tt.expiresIn {
				t.Errorf("expires_in %d, want %d", resp.ExpiresIn, tt.expiresIn)
			}
			e.clock.Advance(tt.alive)
			if _, err := e.srv.Validate(context.Background(), resp.AccessToken); err != nil {
				t.Fatalf("after %v: %v", tt.alive, err)
			}
			if tt.dead == 0 {
				return
			}
			e.clock.Advance(issued.Add(tt.dead).Sub(e.clock.Now()))
			_, err := e.srv.Validate(context.Background(), resp.AccessToken)
			if !errors.Is(err, oauth.ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
				t.Fatalf("after %v: %v, want expired", tt.dead, err)
			}
		})
	}
}

func TestPerKeyValidityOverridesServer(t *testing.T) {
	e := newEnv(t, oauth.Validity{AppToken: time.Hour})
	alice, err := e.db.UserAccount(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	secret := oauth.NewSecret()
	var production string
	app := &portal.Application{OwnerID: alice.ID, Name: "ShortLived"}
	err = e.db.CreateApplicationWithKeys(context.Background(), app, func(kt oauth.KeyType) *oauth.Client {
		c := &oauth.Client{ConsumerKey: oauth.NewConsumerKey(), SecretHash: oauth.HashOf(secret), KeyType: kt,
			GrantTypes: []string{oauth.GrantClientCredentials}, Validity: oauth.Validity{AppToken: 10 * time.Second}}
		if kt == oauth.Production {
			production = c.ConsumerKey
		}
		return c
	})
	if err != nil {
		t.Fatal(err)
	}
	resp := e.mustToken(t, oauth.TokenRequest{GrantType: "client_credentials", ClientID: production, ClientSecret: secret})
	if resp.ExpiresIn != 10 {
		t.Fatalf("expires_in %d, want the key's 10 s", resp.ExpiresIn)
	}
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t, oauth.Validity{})
	first := e.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "root", Password: "root-password",
		Scope: []string{"read", "update"}})

	// A refresh may narrow the scopes; the key's type (PRODUCTION) is no scope.
	second := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken,
		Scope: []string{"read", "PRODUCTION"}})
	if second.Scope != "read" || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken ||
		second.AccessToken == first.AccessToken {
		t.Fatalf("refresh gave %+v", second)
	}
	// Asking for the key's type alone keeps the original scopes (the WSO2
	// docs refresh with scope=PRODUCTION).
	third := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: second.RefreshToken,
		Scope: []string{"PRODUCTION"}})
	if third.Scope != "read" {
		t.Fatalf("scope %q, want read", third.Scope)
	}
	// The old access token stays valid until it expires; rotation only ends
	// the refresh token.
	if _, err := e.srv.Validate(context.Background(), first.AccessToken); err != nil {
		t.Fatalf("first access token: %v", err)
	}

	// Replaying a used refresh token fails and revokes the whole chain.
	_, err := e.token(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
	if err == nil || err.Code != oauth.ErrCodeInvalidGrant {
		t.Fatalf("replay: %v, want invalid_grant", err)
	}
	for i, tok := range []string{first.AccessToken, second.AccessToken, third.AccessToken} {
		if _, err := e.srv.Validate(context.Background(), tok); !errors.Is(err, oauth.ErrInvalidToken) {
			t.Errorf("token %d of the chain still valid after replay: %v", i, err)
		}
	}
	if _, err := e.token(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: third.RefreshToken}); err == nil {
		t.Error("the newest refresh token still works after a replay")
	}
}

// TestRefreshAskingForAScopeNeverGranted: RFC 6749 §6, "The requested
// scope MUST NOT include any scope not originally granted": such a refresh
// is refused with invalid_scope, and its refresh token stays usable. The
// key's own key type, which the WSO2 docs' refresh example sends as
// scope=PRODUCTION, names no scope and is ignored.
func TestRefreshAskingForAScopeNeverGranted(t *testing.T) {
	e := newEnv(t, oauth.Validity{})
	first := e.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "root", Password: "root-password",
		Scope: []string{"read"}})
	for _, scope := range [][]string{{"update"}, {"read", "update"}, {"SANDBOX"}, {"unknown"}} {
		_, err := e.token(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken, Scope: scope})
		if err == nil || err.Code != oauth.ErrCodeInvalidScope || err.Status != 400 || !strings.Contains(err.Description, scope[len(scope)-1]) {
			t.Errorf("refresh asking for %q: %v, want invalid_scope naming it", scope, err)
		}
	}
	next := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken,
		Scope: []string{"PRODUCTION", "read"}})
	if next.Scope != "read" {
		t.Errorf("refresh with scope PRODUCTION read: %q, want read", next.Scope)
	}
}

func TestRefreshTokenBoundToClientAndExpiry(t *testing.T) {
	e := newEnv(t, oauth.Validity{RefreshToken: time.Hour})
	first := e.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"})

	alice, _ := e.db.UserAccount(context.Background(), "alice")
	other, _ := fixture.App(t, e.db, alice, "OtherApp")
	_, err := e.token(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken,
		ClientID: other.ConsumerKey, ClientSecret: other.Secret})
	if err == nil || err.Code != oauth.ErrCodeInvalidGrant {
		t.Fatalf("another client's refresh: %v, want invalid_grant", err)
	}
	// That attempt did not spend the token.
	e.clock.Advance(59 * time.Minute)
	second := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})

	e.clock.Advance(time.Hour)
	_, err = e.token(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: second.RefreshToken})
	if err == nil || err.Code != oauth.ErrCodeInvalidGrant || !strings.Contains(err.Description, "expired") {
		t.Fatalf("expired refresh: %v", err)
	}
}

func TestConcurrentRefreshOnlyOneWins(t *testing.T) {
	e := newEnv(t, oauth.Validity{})
	first := e.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"})
	const n = 8
	var wg sync.WaitGroup
	errs := make([]*oauth.Error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.token(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if err.Code != oauth.ErrCodeInvalidGrant {
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d refreshes succeeded, want exactly 1", ok)
	}
}

func TestValidateUnknownAndRevoked(t *testing.T) {
	e := newEnv(t, oauth.Validity{})
	for _, tok := range []string{"", "not-a-token"} {
		if _, err := e.srv.Validate(context.Background(), tok); !errors.Is(err, oauth.ErrInvalidToken) {
			t.Errorf("Validate(%q) = %v", tok, err)
		}
	}
	resp := e.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"})
	info, err := e.srv.Validate(context.Background(), resp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	before := fixture.Generation(t, e.db)
	if err := e.db.RevokeFamily(context.Background(), info.FamilyID); err != nil {
		t.Fatal(err)
	}
	if fixture.Generation(t, e.db) == before {
		t.Error("revoking did not change the access generation")
	}
	if _, err := e.srv.Validate(context.Background(), resp.AccessToken); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked token: %v", err)
	}
}

// TestRefreshRechecks: a refresh grants only what a new token request
// could get now: scopes the user's roles no longer allow are dropped, and a
// chain started by a grant the key or the server no longer allows ends.
func TestRefreshRechecks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, oauth.Validity{})
	first := e.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "root", Password: "root-password",
		Scope: []string{"read", "update"}})
	if first.Scope != "read update" {
		t.Fatalf("scope %q, want read update", first.Scope)
	}
	if err := e.db.PutScope(ctx, "", oauth.Scope{Name: "update", Roles: []string{"owner"}}); err != nil {
		t.Fatal(err)
	}
	second := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
	if second.Scope != "read" {
		t.Fatalf("refresh after update was restricted to another role: scope %q, want read", second.Scope)
	}

	strict := oauth.NewServer(e.db, oauth.Validity{}, e.clock.Now)
	strict.Strict()
	_, err := strict.Token(ctx, &oauth.TokenRequest{GrantType: "refresh_token", ClientID: e.key.ConsumerKey,
		ClientSecret: e.key.Secret, RefreshToken: second.RefreshToken})
	if err == nil || err.Code != oauth.ErrCodeInvalidGrant {
		t.Fatalf("refresh of a password-grant chain under Strict: %v, want invalid_grant", err)
	}

	third := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: second.RefreshToken})
	if err := e.db.UpdateKeySettings(ctx, e.key.KeyID, []string{oauth.GrantClientCredentials, oauth.GrantRefreshToken}, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.token(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: third.RefreshToken}); err == nil || err.Code != oauth.ErrCodeInvalidGrant {
		t.Fatalf("refresh of a password-grant chain after the key dropped the password grant: %v, want invalid_grant", err)
	}
}
