package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/postgres"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/internal/ldaptest"
	"github.com/apistore/apistore/internal/pgtest"
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

// TestTokenPartitioningCluster: the nodes of a cluster (PostgreSQL) share
// one token partitioning, the database's. A node started with another
// --token-partitioning while a node runs is refused with a message naming
// the database's, and changes nothing; one with the same value joins, and
// both partition the same tokens; with every node stopped, a node changes
// it.
func TestTokenPartitioningCluster(t *testing.T) {
	if !fixture.Postgres() {
		t.Skip("a cluster shares a PostgreSQL database: APISTORE_TEST_STORE=postgres")
	}
	dir := newDataDir(t)
	ldap := ldaptest.Start(t)
	// The user store first: a node reads the stores at start.
	if out, err := runIn(dir, ldaptest.BindPassword+"\n", "userstore add", "--domain", "CORP", "--url", ldap.URL, "--bind-dn", ldaptest.BindDN,
		"--user-search-base", ldaptest.UserSearchBase, "--role-map", "developers=subscriber", "--user-filter", "(objectClass=inetOrgPerson)"); err != nil {
		t.Fatalf("userstore add: %v\n%s", err, out)
	}
	a := startServer(t, dir, []string{"APISTORE_TOKEN_PARTITIONING=CORP:A"}, anyPorts...)
	a.admin(t, "alice-password\n", "user create", "--username", "alice")
	id, secret := appKeys(t, a, "--owner", "alice", "--name", "Partitioned", "--grant-types", "password")

	refused := func(value, database string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, withDatabase(slices.Concat([]string{"serve", "--data-dir", dir, "--metrics-addr", "127.0.0.1:0"}, anyPorts))...)
		cmd.Env = append(os.Environ(), "APISTORE_TOKEN_PARTITIONING="+value)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), `the database's is "`+database+`"`) || !strings.Contains(string(out), "stop every node") {
			t.Errorf("a node with --token-partitioning %q beside a running one: %v\n%s", value, err, out)
		}
	}
	refused("CORP:B", "CORP:a")
	refused("", "CORP:a")

	b := startServer(t, dir, []string{"APISTORE_TOKEN_PARTITIONING=corp:a"}, anyPorts...)
	bob := url.Values{"grant_type": {"password"}, "username": {"CORP/bob"}, "password": {"bob-ldap-pw"}}
	for _, n := range []*server{a, b} {
		status, body := postOAuth(t, http.DefaultClient, n.urls["http"]+"/token", id, secret, bob)
		tok, _ := body["access_token"].(string)
		if status != http.StatusOK || !strings.HasPrefix(tok, "CORP.") || !active(t, a, id, secret, tok) || !active(t, b, id, secret, tok) {
			t.Errorf("bob's token from %s: %d %v; want CORP's, active on both nodes", n.urls["http"], status, body)
		}
	}
	a.stop(t)
	refused("", "CORP:a") // b still runs
	b.stop(t)

	c := startServer(t, dir, nil, anyPorts...) // alone: turns it off
	refused("CORP:A", "")
	c.stop(t)
}

// TestTokenPartitioningLostHold: a node whose connection holding the
// partitioning lock is cut, and whose partitioning another node changes
// before it holds the lock again, stops with a message naming both and a
// non-zero exit, rather than serve tokens from the wrong tables.
func TestTokenPartitioningLostHold(t *testing.T) {
	if !fixture.Postgres() {
		t.Skip("the lock is PostgreSQL's: APISTORE_TEST_STORE=postgres")
	}
	dir := newDataDir(t)
	a := startServer(t, dir, []string{"APISTORE_TOKEN_PARTITIONING=CORP:A"}, anyPorts...)
	other, err := postgres.Open(t.Context(), databaseOf(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	admin, err := pgx.Connect(t.Context(), databaseOf(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	// The node notices the cut within seconds; the change, made at once,
	// comes first unless the node took the lock again first: then again.
	for attempt := 1; ; attempt++ {
		for _, pid := range pgtest.SharedLockHolders(t, admin) {
			pgtest.Terminate(t, admin, pid)
		}
		err := other.PartitionTokens(t.Context(), nil)
		if err == nil {
			break
		}
		if !errors.Is(err, postgres.ErrPartitioningInUse) || attempt == 5 {
			t.Fatalf("turning partitioning off while the node's hold is cut (attempt %d): %v", attempt, err)
		}
	}
	select {
	case <-a.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the node still runs 15 s after its partitioning changed:\n%s", a.log())
	}
	if code := a.cmd.ProcessState.ExitCode(); code == 0 || !strings.Contains(a.log(), `token partitioning changed while this node's hold on it was lost: it is "", this node's was "CORP:a"`) ||
		strings.Contains(a.log(), "apistore: stopped") {
		t.Errorf("the node exited %d (wanted the error, not a plain stop):\n%s", code, a.log())
	}
}
