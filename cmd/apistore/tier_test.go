package main

import (
	"strings"
	"testing"
)

// TestTenantScopeAndTierCommands: scope create, scope list and tier
// set/list/delete work on the --tenant named only (the super tenant by
// default), and say in one line what is wrong.
func TestTenantScopeAndTierCommands(t *testing.T) {
	dir := newDataDir(t)
	run := func(command string, flags ...string) (string, error) {
		return runIn(dir, "", command, flags...)
	}
	if out, err := runIn(dir, "acme-admin-password\n", "tenant create", "--domain", "acme.com", "--admin", "admin"); err != nil {
		t.Fatalf("tenant create: %v\n%s", err, out)
	}
	for _, c := range [][]string{
		{"scope create", "--name", "orders", "--description", "Super orders"},
		{"scope create", "--tenant", "acme.com", "--name", "orders", "--description", "Acme orders", "--roles", "partner"},
		{"tier set", "--tenant", "acme.com", "--name", "Platinum", "--rpm", "10000", "--description", "For partners"},
		{"tier set", "--tenant", "acme.com", "--name", "Gold", "--rpm", "20"},
	} {
		if out, err := run(c[0], c[1:]...); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	for _, c := range []struct {
		args          []string
		want, notWant string
	}{
		{[]string{"scope list"}, "Super orders", "Acme"},
		{[]string{"scope list", "--tenant", "acme.com"}, "partner", "Super"},
		{[]string{"tier list"}, "the gateway's --tier-gold", "Platinum"},
		{[]string{"tier list", "--tenant", "acme.com"}, "10000 requests per minute", "--tier-gold"},
	} {
		out, err := run(c.args[0], c.args[1:]...)
		if err != nil || !strings.Contains(out, c.want) || strings.Contains(out, c.notWant) {
			t.Errorf("%s: %v\n%s\nwant %q, not %q", strings.Join(c.args, " "), err, out, c.want, c.notWant)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"scope create", "--tenant", "nowhere.example", "--name", "x"}, `no tenant "nowhere.example"`},
		{[]string{"tier set", "--tenant", "acme.com", "--name", "Platinum"}, "--rpm"},
		{[]string{"tier set", "--name", "Plat inum", "--rpm", "5"}, "--name"},
		{[]string{"tier set", "--name", "Unlimited", "--rpm", "5"}, "Unlimited is never limited"},
		{[]string{"tier delete", "--name", "Platinum"}, "carbon.super has no tier"},
		{[]string{"tier delete", "--name", "Gold"}, "has the gateway's already"},
	} {
		out, err := run(c.args[0], c.args[1:]...)
		if err == nil || !strings.Contains(out, c.want) || strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Errorf("%s: %v\n%s\nwant one line with %q", strings.Join(c.args, " "), err, out, c.want)
		}
	}
	// An application of acme.com's admin may have acme.com's Platinum; one
	// of the super tenant's may not; a tier in use stays.
	if out, err := run("app create", "--owner", "admin@acme.com", "--name", "Plated", "--tier", "Platinum"); err != nil {
		t.Fatalf("app create on acme.com's Platinum: %v\n%s", err, out)
	}
	if out, err := run("user create", "--username", "alice", "--password", "a-long-password"); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	if out, err := run("app create", "--owner", "alice", "--name", "Plated", "--tier", "Platinum"); err == nil || !strings.Contains(out, "--tier must be one of") {
		t.Errorf("app create of the super tenant's on acme.com's Platinum: %v\n%s", err, out)
	}
	if out, err := run("tier delete", "--tenant", "acme.com", "--name", "Platinum"); err == nil || !strings.Contains(out, "in use") {
		t.Errorf("tier delete of a tier in use: %v\n%s", err, out)
	}
	if out, err := run("tier set", "--tenant", "acme.com", "--name", "Diamond", "--rpm", "0"); err != nil || !strings.Contains(out, "unlimited") {
		t.Fatalf("tier set Diamond: %v\n%s", err, out)
	}
	if out, err := run("tier delete", "--tenant", "acme.com", "--name", "Diamond"); err != nil || !strings.Contains(out, "deleted") {
		t.Errorf("tier delete: %v\n%s", err, out)
	}
	if out, err := run("tier list", "--tenant", "acme.com"); err != nil || strings.Contains(out, "Diamond") || !strings.Contains(out, "Platinum") {
		t.Errorf("tier list after delete: %v\n%s", err, out)
	}
}
