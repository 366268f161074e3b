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
	"github.com/apistore/apistore/userstore"
	"github.com/apistore/apistore/web"
)

// ldapEnv is env with a CORP user store on a real slapd, whose users match
// userFilter, and /token served with it on the gateway's database.
type ldapEnv struct {
	*env
	ldap     *ldaptest.Server
	dir      *userstore.Directory
	tokenURL string
}

// newLDAPEnv makes an ldapEnv; configure, unless nil, sets up the /token
// server further.
func newLDAPEnv(t *testing.T, userFilter string, configure func(*oauth.Server)) *ldapEnv {
	t.Helper()
	e := &ldapEnv{env: newEnv(t, gateway.Config{}), ldap: ldaptest.Start(t)}
	us := e.ldap.UserStore(userFilter, map[string]string{"developers": "subscriber"})
	if err := e.db.CreateUserStore(e.ctx, us); err != nil {
		t.Fatal(err)
	}
	dir, err := userstore.New(e.ctx, e.db, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dir.Close)
	e.dir = dir
	o := oauth.NewServer(e.db, oauth.Validity{}, e.clock.Now)
	o.SetDirectory(dir)
	if configure != nil {
		configure(o)
	}
	srv := httptest.NewServer(web.New(web.Config{}, handlers.New(o, e.db, handlers.WithDirectory(dir))).API())
	t.Cleanup(srv.Close)
	e.tokenURL = srv.URL
	return e
}

// post sends a form with alice's production key to the /token server's path.
func (e *ldapEnv) post(t *testing.T, path string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", e.tokenURL+path, strings.NewReader(form.Encode()))
	req.SetBasicAuth(e.alice.prodKey, e.alice.prodSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// tokens asks /token for the form's grant, which must succeed.
func (e *ldapEnv) tokens(t *testing.T, form url.Values) oauth.TokenResponse {
	t.Helper()
	resp := e.post(t, "/token", form)
	var tr oauth.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token %v: %d %v", form, resp.StatusCode, err)
	}
	return tr
}

// ldapTokens gets tokens of CORP/user by the password grant.
func (e *ldapEnv) ldapTokens(t *testing.T, user string) oauth.TokenResponse {
	t.Helper()
	return e.tokens(t, url.Values{"grant_type": {"password"}, "username": {"CORP/" + user}, "password": {user + "-ldap-pw"}})
}
