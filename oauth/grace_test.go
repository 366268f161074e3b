package oauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// newGraceEnv is newEnv with a refresh grace period of 30 seconds and
// alice's first tokens.
func newGraceEnv(t *testing.T) (*env, *oauth.TokenResponse) {
	t.Helper()
	e := newEnv(t, oauth.Validity{UserToken: time.Hour, RefreshToken: 24 * time.Hour})
	e.srv.RefreshGrace(30 * time.Second)
	first := e.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"})
	return e, first
}

func (e *env) refresh(t *testing.T, refreshToken string) (*oauth.TokenResponse, *oauth.Error) {
	t.Helper()
	return e.token(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: refreshToken})
}

// chainRevoked fails the test unless every access token given is refused.
func (e *env) chainRevoked(t *testing.T, tokens ...string) {
	t.Helper()
	for i, tok := range tokens {
		if _, err := e.srv.Validate(context.Background(), tok); !errors.Is(err, oauth.ErrInvalidToken) {
			t.Errorf("access token %d of the chain still valid after a replay: %v", i, err)
		}
	}
}

// TestRefreshGraceRetryGetsTheSameAnswer: a refresh whose response was
// lost, retried within the grace period, gets the identical tokens, with
// expires_in counted down; the chain stays valid and the new refresh
// token works once, as any other.
func TestRefreshGraceRetryGetsTheSameAnswer(t *testing.T) {
	e, first := newGraceEnv(t)
	second := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
	if second.ExpiresIn != 3600 {
		t.Fatalf("expires_in %d, want 3600", second.ExpiresIn)
	}
	e.clock.Advance(10*time.Second + 300*time.Millisecond)
	again, err := e.refresh(t, first.RefreshToken)
	if err != nil {
		t.Fatalf("retry within the grace period: %v", err)
	}
	want := *second
	want.ExpiresIn = 3590 // 3589.7 s left, rounded up
	want.Repeated = true
	if *again != want {
		t.Fatalf("retry got %+v, want %+v", again, want)
	}
	for _, tok := range []string{first.AccessToken, second.AccessToken} {
		if _, err := e.srv.Validate(context.Background(), tok); err != nil {
			t.Fatalf("a retry within the grace period revoked %s: %v", tok, err)
		}
	}
	third := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: again.RefreshToken})
	if third.AccessToken == second.AccessToken || third.RefreshToken == second.RefreshToken {
		t.Fatalf("the retried refresh token did not rotate: %+v", third)
	}
}

// TestRefreshGraceEnds: every replay after the grace period, or from
// another client within it, revokes the chain; so does one after the grace
// period was turned off.
func TestRefreshGraceEnds(t *testing.T) {
	tests := []struct {
		name   string
		replay func(t *testing.T, e *env, used string) *oauth.Error
	}{
		{"just after the grace period", func(t *testing.T, e *env, used string) *oauth.Error {
			e.clock.Advance(30 * time.Second)
			_, err := e.refresh(t, used)
			return err
		}},
		{"an hour later", func(t *testing.T, e *env, used string) *oauth.Error {
			e.clock.Advance(time.Hour)
			_, err := e.refresh(t, used)
			return err
		}},
		{"from another client, within the grace period", func(t *testing.T, e *env, used string) *oauth.Error {
			alice, _ := e.db.UserAccount(context.Background(), "alice")
			other, _ := fixture.App(t, e.db, alice, "OtherApp")
			e.clock.Advance(time.Second)
			_, err := e.token(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: used,
				ClientID: other.ConsumerKey, ClientSecret: other.Secret})
			return err
		}},
		{"with the grace period turned off", func(t *testing.T, e *env, used string) *oauth.Error {
			e.srv.RefreshGrace(0)
			_, err := e.refresh(t, used)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, first := newGraceEnv(t)
			second := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
			third := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: second.RefreshToken})
			err := tt.replay(t, e, first.RefreshToken)
			if err == nil || err.Code != oauth.ErrCodeInvalidGrant || !err.Replay {
				t.Fatalf("replay: %v, want invalid_grant as a replay", err)
			}
			e.chainRevoked(t, first.AccessToken, second.AccessToken, third.AccessToken)
			// Within the grace period of second's use, its retry no longer
			// gets the revoked answer.
			if _, err := e.refresh(t, second.RefreshToken); err == nil || err.Code != oauth.ErrCodeInvalidGrant {
				t.Fatalf("retry after the chain was revoked: %v", err)
			}
			if _, err := e.refresh(t, third.RefreshToken); err == nil {
				t.Fatal("the newest refresh token still works after a replay")
			}
		})
	}
}

// TestRefreshGraceDoesNotResurrectRevokedTokens: once the tokens a refresh
// handed out are revoked (RFC 7009), or their user disabled, a retry
// within the grace period does not hand them out again.
func TestRefreshGraceDoesNotResurrectRevokedTokens(t *testing.T) {
	for name, end := range map[string]func(e *env, second *oauth.TokenResponse) error{
		"revoked at /revoke": func(e *env, second *oauth.TokenResponse) error {
			if _, err := e.srv.Revoke(context.Background(), &oauth.TokenHintRequest{Token: second.AccessToken,
				ClientID: e.key.ConsumerKey, ClientSecret: e.key.Secret}); err != nil {
				return err
			}
			return nil
		},
		"user disabled": func(e *env, _ *oauth.TokenResponse) error {
			_, _, err := e.db.DisableUser(context.Background(), "root", e.clock.Now())
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			e, _ := newGraceEnv(t)
			// root's chain, on alice's key: root can be disabled without
			// disabling the key.
			first := e.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "root", Password: "root-password"})
			second := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
			if err := end(e, second); err != nil {
				t.Fatal(err)
			}
			resp, err := e.refresh(t, first.RefreshToken)
			if err == nil || err.Code != oauth.ErrCodeInvalidGrant {
				t.Fatalf("retry: %+v %v, want invalid_grant", resp, err)
			}
		})
	}
}

// TestConcurrentRefreshesGetOneAnswer: refreshes of one token at once, as
// several tabs or threads of one client send them, all get the one
// answer, and nothing is revoked.
func TestConcurrentRefreshesGetOneAnswer(t *testing.T) {
	e, first := newGraceEnv(t)
	const n = 8
	resps := make([]*oauth.TokenResponse, n)
	errs := make([]*oauth.Error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resps[i], errs[i] = e.refresh(t, first.RefreshToken)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("refresh %d of %d: %v", i, n, errs[i])
		}
		if resps[i].AccessToken != resps[0].AccessToken || resps[i].RefreshToken != resps[0].RefreshToken {
			t.Fatalf("refresh %d got other tokens than refresh 0: %+v, %+v", i, resps[i], resps[0])
		}
	}
	if _, err := e.srv.Validate(context.Background(), resps[0].AccessToken); err != nil {
		t.Fatalf("the one answer's token: %v", err)
	}
}

// TestKeptAnswerIsUselessWithoutTheRefreshToken: what the store keeps of a
// refresh's answer (the used token's SHA-256 and the sealed answer) holds
// neither token in any form, and neither the stored hash nor another
// refresh token opens it; only the refresh token that was presented does.
func TestKeptAnswerIsUselessWithoutTheRefreshToken(t *testing.T) {
	e, first := newGraceEnv(t)
	second := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
	used := oauth.HashOf(first.RefreshToken)
	kept, err := e.db.KeptAnswer(context.Background(), used)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{second.AccessToken, second.RefreshToken} {
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		if bytes.Contains(kept.Sealed, []byte(tok)) || bytes.Contains(kept.Sealed, raw) {
			t.Fatalf("the kept answer holds a token in clear")
		}
	}
	// What someone holding the database could try: the stored hash, in
	// every form, as the secret the key is derived from; another token.
	other := e.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"})
	for _, guess := range []string{string(used[:]), used.String(), base64.RawURLEncoding.EncodeToString(used[:]), other.RefreshToken, ""} {
		if resp, err := oauth.OpenKeptAnswer(guess, kept.Sealed); err == nil {
			t.Fatalf("opened the kept answer without the refresh token: %+v", resp)
		}
	}
	resp, err := oauth.OpenKeptAnswer(first.RefreshToken, kept.Sealed)
	if err != nil || resp.AccessToken != second.AccessToken || resp.RefreshToken != second.RefreshToken {
		t.Fatalf("the refresh token opens %+v, %v", resp, err)
	}
	// On SQLite, the tokens appear nowhere in the database's files either.
	if !db.IsPostgres(e.db.Location()) {
		files, _ := filepath.Glob(e.db.Location() + "*") // the database, its WAL and shared memory
		if len(files) < 2 {
			t.Fatalf("database files %v", files)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range []string{second.AccessToken, second.RefreshToken} {
				raw, _ := base64.RawURLEncoding.DecodeString(tok)
				if bytes.Contains(b, []byte(tok)) || bytes.Contains(b, raw) {
					t.Fatalf("%s holds a token in clear", filepath.Base(f))
				}
			}
		}
	}
	// The cleanup drops the answer when the grace period ends, not before.
	if n, err := e.db.DeleteStaleKeptAnswers(context.Background(), kept.KeepUntil.Add(-time.Millisecond)); err != nil || n != 0 {
		t.Fatalf("cleanup within the grace period: %d, %v", n, err)
	}
	if n, err := e.db.DeleteStaleKeptAnswers(context.Background(), kept.KeepUntil); err != nil || n != 1 {
		t.Fatalf("cleanup at the end of the grace period: %d, %v", n, err)
	}
	if _, err := e.db.KeptAnswer(context.Background(), used); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatalf("kept answer after cleanup: %v", err)
	}
}

// TestRefreshGraceKeepsTheJWT: an application with JWT access tokens that
// retries a refresh within the grace period gets the same signed JWT
// again, still valid, not a second one.
func TestRefreshGraceKeepsTheJWT(t *testing.T) {
	e := newJWTEnv(t)
	e.srv.RefreshGrace(30 * time.Second)
	first := e.issue(t, oauth.TokenRequest{GrantType: oauth.GrantPassword, Username: "alice", Password: "alice-password"})
	second := e.issue(t, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: first.RefreshToken})
	e.clock.Advance(5 * time.Second)
	again := e.issue(t, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: first.RefreshToken})
	if again.AccessToken != second.AccessToken || again.RefreshToken != second.RefreshToken {
		t.Fatalf("retry got other tokens:\n%+v\nwant those of\n%+v", again, second)
	}
	if kid, claims := e.kid(t, again.AccessToken); kid == "" || claims["sub"] != "alice@carbon.super" {
		t.Errorf("the retried JWT does not verify: kid %q, claims %v", kid, claims)
	}
	if _, err := e.srv.Validate(t.Context(), again.AccessToken); err != nil {
		t.Errorf("Validate(retried JWT): %v", err)
	}
}
