package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/ldaptest"
)

// TestTokenPartitioningAtStart: serve turns token partitioning on
// (APISTORE_TOKEN_PARTITIONING) and off again on a database holding an
// LDAP user's tokens; every token stays valid, the tokens issued with it
// on name CORP's partition, and a bad value is refused.
func TestTokenPartitioningAtStart(t *testing.T) {
	dir := newDataDir(t)
	ldap := ldaptest.Start(t)
	s := startServer(t, dir, nil, anyPorts...)
	s.admin(t, ldaptest.BindPassword+"\n", "userstore add", "--domain", "CORP", "--url", ldap.URL, "--bind-dn", ldaptest.BindDN,
		"--user-search-base", ldaptest.UserSearchBase, "--group-search-base", ldaptest.GroupSearchBase,
		"--role-map", "developers=subscriber", "--user-filter", "(objectClass=inetOrgPerson)")
	s.admin(t, "alice-password\n", "user create", "--username", "alice")
	id, secret := appKeys(t, s, "--owner", "alice", "--name", "Partitioned", "--grant-types", "password,refresh_token")
	s.stop(t)
	token := func(s *server, form url.Values) (access, refresh string) {
		t.Helper()
		status, body := postOAuth(t, http.DefaultClient, s.urls["http"]+"/token", id, secret, form)
		access, _ = body["access_token"].(string)
		refresh, _ = body["refresh_token"].(string)
		if status != http.StatusOK || access == "" || refresh == "" {
			t.Fatalf("token %v: %d %v", form, status, body)
		}
		return access, refresh
	}
	bob := url.Values{"grant_type": {"password"}, "username": {"CORP/bob"}, "password": {"bob-ldap-pw"}}
	alice := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}}

	s = startServer(t, dir, nil, anyPorts...)
	before, beforeRefresh := token(s, bob)
	alices, _ := token(s, alice)
	s.stop(t)

	s = startServer(t, dir, []string{"APISTORE_TOKEN_PARTITIONING=CORP:A"}, anyPorts...)
	for what, tok := range map[string]string{"bob's token issued before": before, "alice's token": alices} {
		if !active(t, s, id, secret, tok) {
			t.Errorf("partitioning on: %s is not active", what)
		}
	}
	during, _ := token(s, bob)
	refreshed, _ := token(s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {beforeRefresh}})
	for _, tok := range []string{during, refreshed} {
		if !strings.HasPrefix(tok, "CORP.") || !active(t, s, id, secret, tok) {
			t.Errorf("partitioning on: bob's new token %q is not CORP's, or not active", tok)
		}
	}
	s.stop(t)

	s = startServer(t, dir, nil, anyPorts...)
	for what, tok := range map[string]string{"bob's token issued before": before, "bob's refreshed token": refreshed,
		"bob's token issued with partitioning": during, "alice's token": alices} {
		if !active(t, s, id, secret, tok) {
			t.Errorf("partitioning off again: %s is not active", what)
		}
	}
	s.stop(t)

	for _, bad := range []string{"CORP", "CORP:a-b", "CORP:A,corp:B"} {
		code, _, errOut := apistore(t, []string{"APISTORE_TOKEN_PARTITIONING=" + bad}, "", slices.Concat([]string{"serve", "--data-dir", dir}, anyPorts)...)
		if code != 2 || !strings.Contains(errOut, "--token-partitioning") {
			t.Errorf("APISTORE_TOKEN_PARTITIONING=%s: exit %d, %q; want a usage error", bad, code, errOut)
		}
	}
}
