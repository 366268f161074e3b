package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/internal/ldaptest"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/userstore"
	"github.com/apistore/apistore/web"
)

// TestPartitionedTokensAtTheGateway: with CORP's tokens partitioned, an
// LDAP user's tokens (CORP/bob, by the password grant) name the partition,
// call the gateway, refresh, and are refused on the very next call once
// revoked at /revoke or by another process, while a primary user's tokens
// are as before. The gateway's own server was given no partitioning: the
// token names its partition and the database its table.
func TestPartitionedTokensAtTheGateway(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	ldap := ldaptest.Start(t)
	us := &portal.UserStore{Domain: "CORP", URL: ldap.URL, BindDN: ldaptest.BindDN, BindPassword: ldaptest.BindPassword,
		UserSearchBase: ldaptest.UserSearchBase, UserFilter: "(objectClass=inetOrgPerson)",
		UserAttribute: "uid", GroupSearchBase: ldaptest.GroupSearchBase, RoleMap: map[string]string{"developers": "subscriber"}}
	if err := e.db.CreateUserStore(e.ctx, us); err != nil {
		t.Fatal(err)
	}
	dir, err := userstore.New(e.ctx, e.db, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dir.Close)
	ps, err := oauth.ParsePartitioning("CORP:A")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.PartitionTokens(e.ctx, ps); err != nil {
		t.Fatal(err)
	}
	o := oauth.NewServer(e.db, oauth.Validity{}, e.clock.Now)
	o.SetDirectory(dir)
	o.SetTokenPartitioning(ps, func(u string) string { return userstore.ParseUsername(u).Domain })
	tokenSrv := httptest.NewServer(web.New(web.Config{}, handlers.New(o, e.db, handlers.WithDirectory(dir))).API())
	t.Cleanup(tokenSrv.Close)
	post := func(path string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", tokenSrv.URL+path, strings.NewReader(form.Encode()))
		req.SetBasicAuth(e.alice.prodKey, e.alice.prodSecret)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	token := func(form url.Values) oauth.TokenResponse {
		t.Helper()
		resp := post("/token", form)
		var tr oauth.TokenResponse
		if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("token %v: %d %v", form, resp.StatusCode, err)
		}
		return tr
	}
	password := func(user, pw string) oauth.TokenResponse {
		return token(url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}})
	}
	calls := func(what, tok string, want int) {
		t.Helper()
		if r := e.call("GET", "/pizzashack/1.0.0/menu", tok, nil); r.status != want {
			t.Errorf("%s: %d %v; want %d", what, r.status, r.body, want)
		}
	}

	bob := password("CORP/bob", "bob-ldap-pw")
	if !strings.HasPrefix(bob.AccessToken, "CORP.") || !strings.HasPrefix(bob.RefreshToken, "CORP.") {
		t.Fatalf("bob's tokens %q, %q do not name CORP's partition", bob.AccessToken, bob.RefreshToken)
	}
	if n := fixture.Count(t, e.db, "SELECT count(*) FROM tokens_a"); n != 1 {
		t.Errorf("tokens_a holds %d tokens; want bob's", n)
	}
	primary := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	if strings.Contains(primary, ".") {
		t.Errorf("a primary user's token %q is marked", primary)
	}
	calls("bob's token", bob.AccessToken, http.StatusOK)
	calls("a primary user's token", primary, http.StatusOK)

	// Refresh, then revocation at /revoke: refused on the next call.
	next := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bob.RefreshToken}})
	calls("bob's refreshed token", next.AccessToken, http.StatusOK)
	if resp := post("/revoke", url.Values{"token": {next.AccessToken}}); resp.StatusCode != http.StatusOK ||
		resp.Header.Get("AuthorizedUser") != "CORP/bob" {
		t.Fatalf("/revoke: %d, AuthorizedUser %q", resp.StatusCode, resp.Header.Get("AuthorizedUser"))
	}
	calls("bob's revoked token", next.AccessToken, http.StatusUnauthorized)

	// Revoked by another process (node): refused on the next call too.
	other := password("CORP/bob", "bob-ldap-pw")
	calls("bob's other token", other.AccessToken, http.StatusOK)
	if err := e.otherProcess(func(d db.Store) error {
		return d.RevokeFamily(oauth.InPartition(e.ctx, oauth.PartitionOf(other.AccessToken)), oauth.HashOf(other.AccessToken))
	}); err != nil {
		t.Fatal(err)
	}
	calls("bob's token revoked by another process", other.AccessToken, http.StatusUnauthorized)
	calls("a primary user's token at the end", primary, http.StatusOK)
}
