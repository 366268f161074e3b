package gateway_test

import (
	"net/http"
	"testing"
)

// TestLDAPUserRefusedAtTheGateway: the token of an LDAP user (CORP/bob, by
// the password grant) calls the gateway; once bob is disabled in LDAP and
// the user store's sync has run, the gateway refuses it on the next call
// (401), while another LDAP user's token keeps working.
func TestLDAPUserRefusedAtTheGateway(t *testing.T) {
	e := newLDAPEnv(t, "(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))", nil)
	bob, alice := e.ldapTokens(t, "bob").AccessToken, e.ldapTokens(t, "alice").AccessToken
	for _, tok := range []string{bob, alice} {
		if r := e.call("GET", "/pizzashack/1.0.0/menu", tok, nil); r.status != http.StatusOK {
			t.Fatalf("before: %d %v", r.status, r.body)
		}
	}
	e.ldap.Modify(t, "dn: uid=bob,ou=people,dc=example,dc=org\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n")
	if n, err := e.dir.Sync(e.ctx); n != 1 || err != nil {
		t.Fatalf("Sync: %d, %v", n, err)
	}
	if r := e.call("GET", "/pizzashack/1.0.0/menu", bob, nil); r.status != http.StatusUnauthorized {
		t.Errorf("bob's token after the sync: %d %v", r.status, r.body)
	}
	if r := e.call("GET", "/pizzashack/1.0.0/menu", alice, nil); r.status != http.StatusOK {
		t.Errorf("alice's token after the sync: %d %v", r.status, r.body)
	}
}
