package userstore_test

import (
	"testing"

	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/userstore"
)

func TestParseUsername(t *testing.T) {
	for _, c := range []struct {
		in                   string
		domain, name, tenant string
	}{
		{"alice", "", "alice", portal.SuperTenant},
		{"CORP/bob", "CORP", "bob", portal.SuperTenant},
		{"corp/bob", "corp", "bob", portal.SuperTenant},
		{"CORP/", "CORP", "", portal.SuperTenant},
		{"/bob", "", "bob", portal.SuperTenant},
		{"CORP/a/b", "CORP", "a/b", portal.SuperTenant},
		{"john@example.org", "", "john", "example.org"},
		{"CORP/bob@Acme.com", "CORP", "bob", "acme.com"},
		{"john@example.org@acme.com", "", "john@example.org", "acme.com"},
		{"CORP/john@example.org@acme.com", "CORP", "john@example.org", "acme.com"},
	} {
		got := userstore.ParseUsername(c.in)
		if got.Domain != c.domain || got.Name != c.name || got.Tenant != c.tenant {
			t.Errorf("ParseUsername(%q) = %+v, want domain %q name %q in %s", c.in, got, c.domain, c.name, c.tenant)
		}
	}
}

func TestRoleMapRoundTrip(t *testing.T) {
	m := portal.ParseRoleMap("developers=subscriber, apiadmins=admin,broken,=x,y=")
	if len(m) != 2 || m["developers"] != "subscriber" || m["apiadmins"] != "admin" {
		t.Fatalf("ParseRoleMap: %v", m)
	}
	if s := portal.JoinRoleMap(m); s != "apiadmins=admin developers=subscriber" {
		t.Errorf("JoinRoleMap: %q", s)
	}
}
