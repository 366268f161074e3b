package oauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/apistore/apistore/oauth"
)

// TestIssueConsoleToken checks the try-it console's tokens: the scopes the
// owner's roles allow, no refresh token, marked as the console's, and
// short-lived whatever the key's application token validity.
func TestIssueConsoleToken(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		validity time.Duration // the server's application token validity
		scopes   []string
		want     string
		lifetime time.Duration
	}{
		{"no scope", time.Hour, nil, "default", oauth.ConsoleValidity},
		{"scopes narrowed by the owner's roles", time.Hour, []string{"read", "update", "unknown"}, "read", oauth.ConsoleValidity},
		{"a shorter application token validity wins", 5 * time.Minute, []string{"read"}, "read", 5 * time.Minute},
		{"tokens that never expire do not make it last", -1, nil, "default", oauth.ConsoleValidity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, oauth.Validity{AppToken: tt.validity})
			c, err := e.db.ClientByKey(ctx, e.key.ConsumerKey)
			if err != nil {
				t.Fatal(err)
			}
			resp, oerr := e.srv.IssueConsoleToken(ctx, c, tt.scopes)
			if oerr != nil {
				t.Fatal(oerr)
			}
			if resp.Scope != tt.want || resp.RefreshToken != "" || resp.ExpiresIn != int64(tt.lifetime/time.Second) {
				t.Errorf("got scope %q, refresh %q, expires_in %d; want %q, none, %d", resp.Scope, resp.RefreshToken, resp.ExpiresIn, tt.want, int64(tt.lifetime/time.Second))
			}
			info, err := e.srv.Validate(ctx, resp.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if info.GrantType != oauth.GrantConsole || info.KeyType != oauth.Production {
				t.Errorf("token recorded as %s of a %s key, want %s of %s", info.GrantType, info.KeyType, oauth.GrantConsole, oauth.Production)
			}
			e.clock.Advance(tt.lifetime)
			if _, err := e.srv.Validate(ctx, resp.AccessToken); err == nil {
				t.Error("the token is still valid once its lifetime is over")
			}
		})
	}
}
