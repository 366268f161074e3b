package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// tenantEnv is revokeEnv with a tenant, acme.com, whose alice
// (alice@acme.com) owns an application, and a super-tenant user with an
// e-mail username.
type tenantEnv struct {
	*revokeEnv
	acmeAlice *portal.User
	acmeKey   fixture.Key
}

func newTenantEnv(t *testing.T) *tenantEnv {
	t.Helper()
	e := &tenantEnv{revokeEnv: newRevokeEnv(t)}
	admin := &portal.User{User: oauth.User{Username: "admin", PasswordHash: "$not-a-hash$"}}
	if err := e.db.CreateTenant(t.Context(), &portal.Tenant{Domain: "acme.com"}, admin); err != nil {
		t.Fatal(err)
	}
	e.acmeAlice = fixture.User(t, e.db, "alice@acme.com", "acme-alice-password", "subscriber")
	if e.acmeAlice.Username != "alice@acme.com" || e.acmeAlice.TenantID == portal.SuperTenantID {
		t.Fatalf("alice@acme.com was made in the super tenant: %+v", e.acmeAlice)
	}
	fixture.User(t, e.db, "john@example.org", "john-password", "subscriber")
	e.acmeKey, _ = fixture.App(t, e.db, e.acmeAlice, "AcmeApp", oauth.AllGrantTypes...)
	return e
}

// password is the WSO2 docs' curl for the password grant:
// curl -k -d "grant_type=password&username=U&password=P" -H "Authorization: Basic …" https://localhost:9443/oauth2/token
func (e *tenantEnv) password(t *testing.T, k fixture.Key, username, password string) (int, map[string]any) {
	t.Helper()
	resp, body := e.post(t, "/token", url.Values{"grant_type": {"password"}, "username": {username},
		"password": {password}, "scope": {"read"}}.Encode(), map[string]string{"Authorization": keyBasic(k)})
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	return resp.StatusCode, got
}

// introspection is the WSO2 docs' curl for /introspect.
func (e *tenantEnv) introspection(t *testing.T, k fixture.Key, token string) (int, oauth.Introspection) {
	t.Helper()
	resp, body := e.post(t, "/introspect", "token="+token, map[string]string{"Authorization": keyBasic(k)})
	var got oauth.Introspection
	if resp.StatusCode == http.StatusOK && json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	return resp.StatusCode, got
}

// TestTenantWSO2Curl: the WSO2 docs' curl commands with a tenant user,
// alice@acme.com: the password grant at /token (the tenant from the
// client's key), introspection's username and the revocation header
// AuthorizedUser carry the full name, and the super tenant's users read
// as name@carbon.super, e-mail usernames included.
func TestTenantWSO2Curl(t *testing.T) {
	e := newTenantEnv(t)

	status, tok := e.password(t, e.acmeKey, "alice@acme.com", "acme-alice-password")
	if status != http.StatusOK {
		t.Fatalf("password grant of alice@acme.com: %d %v", status, tok)
	}
	access := tok["access_token"].(string)
	if _, got := e.introspection(t, e.acmeKey, access); !got.Active || got.Username != "alice@acme.com" || got.Sub != "alice@acme.com" {
		t.Errorf("introspection: %+v", got)
	}
	resp, body := e.post(t, "/revoke", "token="+access, map[string]string{"Authorization": keyBasic(e.acmeKey)})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("AuthorizedUser") != "alice@acme.com" ||
		resp.Header.Get("RevokedAccessToken") != access {
		t.Fatalf("revoke: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if _, got := e.introspection(t, e.acmeKey, access); got.Active {
		t.Error("the revoked token is active")
	}

	for _, c := range []struct{ username, password, want string }{
		{"alice@carbon.super", "alice-password", "alice@carbon.super"},
		{"alice", "alice-password", "alice@carbon.super"},
		{"john@example.org", "john-password", "john@example.org@carbon.super"},
		{"john@example.org@carbon.super", "john-password", "john@example.org@carbon.super"},
	} {
		status, tok := e.password(t, e.key, c.username, c.password)
		if status != http.StatusOK {
			t.Errorf("password grant of %s: %d %v", c.username, status, tok)
			continue
		}
		access := tok["access_token"].(string)
		if _, got := e.introspection(t, e.key, access); !got.Active || got.Username != c.want {
			t.Errorf("%s: introspection %+v, want username %s", c.username, got, c.want)
		}
		resp, _ := e.post(t, "/revoke", "token="+access, map[string]string{"Authorization": keyBasic(e.key)})
		if got := resp.Header.Get("AuthorizedUser"); got != c.want {
			t.Errorf("%s: AuthorizedUser %q, want %s", c.username, got, c.want)
		}
	}
}

// TestTenantIsolationOAuth: a tenant's application serves its own users
// only, a client learns nothing of another tenant's tokens, and a
// deactivated tenant's keys, tokens and users are refused at once.
func TestTenantIsolationOAuth(t *testing.T) {
	e := newTenantEnv(t)

	for _, c := range []struct {
		key                fixture.Key
		username, password string
	}{
		{e.key, "alice@acme.com", "acme-alice-password"}, // the super tenant's application
		{e.acmeKey, "alice", "alice-password"},           // acme.com's application
		{e.acmeKey, "alice@carbon.super", "alice-password"},
		{e.acmeKey, "john@example.org", "john-password"},
	} {
		if status, got := e.password(t, c.key, c.username, c.password); status != http.StatusBadRequest || got["error"] != oauth.ErrCodeInvalidGrant {
			t.Errorf("%s with another tenant's key: %d %v, want invalid_grant", c.username, status, got)
		}
	}

	_, tok := e.password(t, e.acmeKey, "alice@acme.com", "acme-alice-password")
	access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
	for _, token := range []string{access, refresh} {
		if _, got := e.introspection(t, e.key, token); got.Active {
			t.Error("the super tenant's client sees acme.com's token")
		}
		resp, _ := e.post(t, "/revoke", "token="+token, map[string]string{"Authorization": keyBasic(e.key)})
		if resp.Header.Get("AuthorizedUser") != "" {
			t.Errorf("another tenant's client revoked the token: %v", resp.Header)
		}
		if _, got := e.introspection(t, e.acmeKey, token); !got.Active {
			t.Fatal("the token was revoked by another tenant's client")
		}
	}
	if resp, body := e.post(t, "/token", "grant_type=refresh_token&refresh_token="+refresh,
		map[string]string{"Authorization": keyBasic(e.key)}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("acme.com's refresh token at the super tenant's client: %d %s", resp.StatusCode, body)
	}

	if err := e.db.SetTenantActive(t.Context(), "acme.com", false); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.introspection(t, e.acmeKey, access); status != http.StatusUnauthorized {
		t.Errorf("introspection with a deactivated tenant's key: %d, want 401", status)
	}
	if status, got := e.password(t, e.acmeKey, "alice@acme.com", "acme-alice-password"); status != http.StatusUnauthorized || got["error"] != "invalid_client" {
		t.Errorf("token with a deactivated tenant's key: %d %v", status, got)
	}
	if err := e.db.SetTenantActive(t.Context(), "acme.com", true); err != nil {
		t.Fatal(err)
	}
	if _, got := e.introspection(t, e.acmeKey, access); !got.Active {
		t.Error("the token stayed refused after the tenant was activated")
	}
	resp, body := e.post(t, "/token", "grant_type=refresh_token&refresh_token="+refresh, map[string]string{"Authorization": keyBasic(e.acmeKey)})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("refresh after activation: %d %s", resp.StatusCode, body)
	}
}

// TestTenantLDAPUserStore: a user store of the tenant acme.com (on a real
// slapd): its users log in as CORP/alice@acme.com by the password grant
// with acme.com's application and at the tenant's store as CORP/alice;
// their local accounts are acme.com's, and the super tenant, which has no
// CORP store, knows no CORP/alice.
func TestTenantLDAPUserStore(t *testing.T) {
	e := newLDAPEnv(t, func(us *portal.UserStore) { us.Tenant = "acme.com" })
	ctx := t.Context()
	acme := &portal.Tenant{Domain: "acme.com"}
	admin := &portal.User{User: oauth.User{Username: "admin", PasswordHash: "$not-a-hash$"}}
	if err := e.db.CreateTenant(ctx, acme, admin); err != nil {
		t.Fatal(err)
	}
	acmeKey, _ := fixture.App(t, e.db, admin, "AcmeApp", oauth.AllGrantTypes...)
	token := func(k fixture.Key, username string) (int, map[string]any) {
		resp, body := sendForm(t, e.api.Client(), e.api.URL+"/token", url.Values{"grant_type": {"password"},
			"username": {username}, "password": {"alice-ldap-pw"}, "scope": {"read"}}.Encode(),
			map[string]string{"Authorization": keyBasic(k)})
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("token: %d %s", resp.StatusCode, body)
		}
		return resp.StatusCode, got
	}
	status, tok := token(acmeKey, "CORP/alice@acme.com")
	if status != http.StatusOK {
		t.Fatalf("CORP/alice@acme.com: %d %v", status, tok)
	}
	resp, body := sendForm(t, e.api.Client(), e.api.URL+"/introspect", "token="+tok["access_token"].(string),
		map[string]string{"Authorization": keyBasic(acmeKey)})
	var got oauth.Introspection
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || !got.Active || got.Username != "CORP/alice@acme.com" {
		t.Errorf("introspection: %d %s", resp.StatusCode, body)
	}
	u, err := e.db.UserAccount(ctx, "CORP/alice@acme.com")
	if err != nil || u.TenantID != acme.ID || u.Tenant != "acme.com" {
		t.Fatalf("the local account: %+v, %v", u, err)
	}
	if status, got := token(e.key, "CORP/alice"); status != http.StatusBadRequest || got["error"] != oauth.ErrCodeInvalidGrant {
		t.Errorf("CORP/alice in the super tenant: %d %v", status, got)
	}
	if status, got := token(e.key, "CORP/alice@acme.com"); status != http.StatusBadRequest || got["error"] != oauth.ErrCodeInvalidGrant {
		t.Errorf("CORP/alice@acme.com with the super tenant's key: %d %v", status, got)
	}

	ua := (&authzEnv{store: e.store, api: e.api}).userAgent(t)
	page := ua.logIn(ua.get(e.store.URL+"/t/acme.com/store/login"), "CORP/alice", "alice-ldap-pw")
	if page.status != http.StatusOK || !strings.Contains(page.body, "CORP/alice@acme.com") {
		t.Errorf("CORP/alice at acme.com's store: %d %s", page.status, page.url)
	}
}
