package main

import (
	"strings"
	"testing"

	"github.com/apistore/apistore/portal"
)

// TestUserstoreAdd: apistore userstore add stores an LDAP user store with
// its bind password from standard input, and userstore list shows it
// without the password; a taken domain, a domain with a slash and a
// missing password are refused.
func TestUserstoreAdd(t *testing.T) {
	dir := newDataDir(t)
	const secret = "bind-secret-never-shown"
	run := func(stdin, command string, flags ...string) (string, error) {
		return runIn(dir, stdin, command, flags...)
	}
	add := []string{"--url", "ldap://127.0.0.1:389", "--bind-dn", "cn=apistore,dc=example,dc=org",
		"--user-search-base", "ou=people,dc=example,dc=org", "--group-search-base", "ou=groups,dc=example,dc=org",
		"--role-map", "developers=subscriber,apiadmins=admin"}
	out, err := run(secret+"\n", "userstore add", append([]string{"--domain", "CORP"}, add...)...)
	if err != nil || !strings.Contains(out, "CORP/name") {
		t.Fatalf("userstore add: %v\n%s", err, out)
	}
	for _, c := range []struct {
		stdin, domain, want string
	}{
		{secret + "\n", "corp", "already exists"},
		{secret + "\n", "CO/RP", "--domain"},
		{"", "OTHER", "no bind password"},
	} {
		out, err := run(c.stdin, "userstore add", append([]string{"--domain", c.domain}, add...)...)
		if err == nil || !strings.Contains(out, c.want) || strings.Contains(out, secret) {
			t.Errorf("userstore add --domain %s: %v\n%s", c.domain, err, out)
		}
	}
	out, err = run("", "userstore list")
	if err != nil || !strings.Contains(out, "CORP") || !strings.Contains(out, "apiadmins=admin developers=subscriber") ||
		strings.Contains(out, secret) || strings.Contains(out, "OTHER") {
		t.Errorf("userstore list: %v\n%s", err, out)
	}
	d := openStore(t, dir)
	list, err := d.UserStores(t.Context())
	if err != nil || len(list) != 1 || list[0].BindPassword != secret || list[0].UserFilter != "(objectClass=person)" || list[0].UserAttribute != "uid" {
		t.Errorf("stored: %+v, %v", list, err)
	}
	events, err := d.AuditEvents(t.Context(), portal.AuditQuery{Event: portal.AuditUserStoreAdded})
	if err != nil || len(events) != 1 || events[0].Remote != "command line" || !strings.Contains(events[0].Detail, "CORP") ||
		strings.Contains(events[0].Detail, secret) {
		t.Errorf("audit: %+v, %v", events, err)
	}
}
