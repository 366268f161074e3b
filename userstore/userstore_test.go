package userstore_test

import (
	"testing"

	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/userstore"
)

func TestParseUsername(t *testing.T) {
	for _, c := range []struct {
		in           string
		domain, name string
	}{
		{"alice", "", "alice"},
		{"CORP/bob", "CORP", "bob"},
		{"corp/bob", "corp", "bob"},
		{"CORP/", "CORP", ""},
		{"/bob", "", "bob"},
		{"CORP/a/b", "CORP", "a/b"},
		{"john@example.org", "", "john@example.org"},
	} {
		got := userstore.ParseUsername(c.in)
		if got.Domain != c.domain || got.Name != c.name || got.Tenant != portal.SuperTenant {
			t.Errorf("ParseUsername(%q) = %+v, want domain %q name %q in %s", c.in, got, c.domain, c.name, portal.SuperTenant)
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
