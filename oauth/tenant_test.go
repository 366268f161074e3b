package oauth_test

import (
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// TestTenantScopes: /token resolves the scopes it is asked for in the
// client's tenant only, and a role counts only against its own tenant's
// scopes: a user of beta.org holding "partner" or "admin" never gets
// acme.com's or the super tenant's scope restricted to that role, nor one
// open to anyone there.
func TestTenantScopes(t *testing.T) {
	e := newEnv(t, oauth.Validity{}) // the super tenant's read (anyone) and update (admin)
	fixture.Tenant(t, e.db, "acme.com")
	_, betaAdmin := fixture.Tenant(t, e.db, "beta.org")
	fixture.TenantScope(t, e.db, "acme.com", "orders", "partner")
	fixture.TenantScope(t, e.db, "acme.com", "catalog")
	fixture.TenantScope(t, e.db, "beta.org", "read", "partner")
	carol := fixture.User(t, e.db, "carol@acme.com", "carol-password", "partner")
	bob := fixture.User(t, e.db, "bob@beta.org", "bob-password", "partner", "admin")
	acmeKey, _ := fixture.App(t, e.db, carol, "AcmeApp")
	betaKey, _ := fixture.App(t, e.db, bob, "BetaApp")
	betaAdminKey, _ := fixture.App(t, e.db, betaAdmin, "BetaAdminApp")
	every := []string{"read", "update", "orders", "catalog"}
	for _, tt := range []struct {
		name string
		key  fixture.Key
		req  oauth.TokenRequest
		want string
	}{
		{"acme.com's user gets acme.com's scopes her roles allow", acmeKey,
			oauth.TokenRequest{GrantType: "password", Username: "carol@acme.com", Password: "carol-password"}, "orders catalog"},
		{"beta.org's partner and admin gets only beta.org's read", betaKey,
			oauth.TokenRequest{GrantType: "password", Username: "bob@beta.org", Password: "bob-password"}, "read"},
		{"an application token of beta.org: beta.org's scopes for its owner's roles", betaKey,
			oauth.TokenRequest{GrantType: "client_credentials"}, "read"},
		{"beta.org's admin lacks beta.org's partner role: default, never another tenant's scope", betaAdminKey,
			oauth.TokenRequest{GrantType: "client_credentials"}, "default"},
		{"the super tenant's key: the super tenant's scopes", e.key,
			oauth.TokenRequest{GrantType: "password", Username: "root", Password: "root-password"}, "read update"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.ClientID, tt.req.ClientSecret, tt.req.Scope = tt.key.ConsumerKey, tt.key.Secret, every
			resp := e.mustToken(t, tt.req)
			if resp.Scope != tt.want {
				t.Errorf("scope %q, want %q", resp.Scope, tt.want)
			}
			if resp.RefreshToken == "" {
				return
			}
			again := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: resp.RefreshToken,
				ClientID: tt.key.ConsumerKey, ClientSecret: tt.key.Secret})
			if again.Scope != tt.want {
				t.Errorf("refreshed scope %q, want %q", again.Scope, tt.want)
			}
		})
	}
}
