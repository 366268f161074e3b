package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/ldaptest"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/userstore"
	"github.com/apistore/apistore/web"
)

// TestLDAPUserRefusedAtTheGateway: the token of an LDAP user (CORP/bob, by
// the password grant) calls the gateway; once bob is disabled in LDAP and
// the user store's sync has run, the gateway refuses it on the next call
// (401), while another LDAP user's token keeps working.
func TestLDAPUserRefusedAtTheGateway(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	ldap := ldaptest.Start(t)
	us := &portal.UserStore{Domain: "CORP", URL: ldap.URL, BindDN: ldaptest.BindDN, BindPassword: ldaptest.BindPassword,
		UserSearchBase: ldaptest.UserSearchBase, UserFilter: "(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))",
		UserAttribute: "uid", GroupSearchBase: ldaptest.GroupSearchBase, RoleMap: map[string]string{"developers": "subscriber"}}
	if err := e.db.CreateUserStore(e.ctx, us); err != nil {
		t.Fatal(err)
	}
	dir, err := userstore.New(e.ctx, e.db, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dir.Close)
	// /token with the user store, on the gateway's database.
	o := oauth.NewServer(e.db, oauth.Validity{}, e.clock.Now)
	o.SetDirectory(dir)
	tokenSrv := httptest.NewServer(web.New(web.Config{}, handlers.New(o, e.db, handlers.WithDirectory(dir))).API())
	t.Cleanup(tokenSrv.Close)
	token := func(user string) string {
		t.Helper()
		form := url.Values{"grant_type": {"password"}, "username": {"CORP/" + user}, "password": {user + "-ldap-pw"}}
		req, _ := http.NewRequest("POST", tokenSrv.URL+"/token", strings.NewReader(form.Encode()))
		req.SetBasicAuth(e.alice.prodKey, e.alice.prodSecret)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tr oauth.TokenResponse
		if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("token of CORP/%s: %d %v", user, resp.StatusCode, err)
		}
		return tr.AccessToken
	}
	bob, alice := token("bob"), token("alice")
	for _, tok := range []string{bob, alice} {
		if r := e.call("GET", "/pizzashack/1.0.0/menu", tok, nil); r.status != http.StatusOK {
			t.Fatalf("before: %d %v", r.status, r.body)
		}
	}
	ldap.Modify(t, "dn: uid=bob,ou=people,dc=example,dc=org\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n")
	if n, err := dir.Sync(e.ctx); n != 1 || err != nil {
		t.Fatalf("Sync: %d, %v", n, err)
	}
	if r := e.call("GET", "/pizzashack/1.0.0/menu", bob, nil); r.status != http.StatusUnauthorized {
		t.Errorf("bob's token after the sync: %d %v", r.status, r.body)
	}
	if r := e.call("GET", "/pizzashack/1.0.0/menu", alice, nil); r.status != http.StatusOK {
		t.Errorf("alice's token after the sync: %d %v", r.status, r.body)
	}
}
