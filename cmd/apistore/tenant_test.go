package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/portal"
)

// TestTenantCommands: apistore tenant create makes a tenant with its
// administrator (password from standard input), who is kept as
// admin@acme.com; user create puts alice@acme.com in the tenant and
// john@example.org (no such tenant) in the super tenant; tenant list shows
// both tenants; deactivate disables the tenant's users, activate lets them
// back; the super tenant cannot be deactivated, and a taken or malformed
// domain is refused.
func TestTenantCommands(t *testing.T) {
	dir := newDataDir(t)
	run := func(stdin, command string, flags ...string) (string, error) {
		return runIn(dir, stdin, command, flags...)
	}
	out, err := run("acme-admin-password\n", "tenant create", "--domain", "acme.com", "--admin", "admin")
	if err != nil || !strings.Contains(out, "admin@acme.com") {
		t.Fatalf("tenant create: %v\n%s", err, out)
	}
	for _, c := range []struct{ stdin, domain, admin, want string }{
		{"a-long-password\n", "ACME.com", "other", "already exists"},
		{"a-long-password\n", "carbon.super", "admin", "--domain"},
		{"a-long-password\n", "no_dots", "admin", "--domain"},
		{"a-long-password\n", "beta.org", "a@b", "--admin"},
		{"", "beta.org", "admin", "no password"},
	} {
		if out, err := run(c.stdin, "tenant create", "--domain", c.domain, "--admin", c.admin); err == nil || !strings.Contains(out, c.want) {
			t.Errorf("tenant create --domain %s --admin %s: %v\n%s", c.domain, c.admin, err, out)
		}
	}
	for _, name := range []string{"alice@acme.com", "john@example.org"} {
		if out, err := run("a-long-password\n", "user create", "--username", name); err != nil {
			t.Fatalf("user create %s: %v\n%s", name, err, out)
		}
	}
	out, err = run("", "tenant list")
	if err != nil || !strings.Contains(out, "carbon.super") || !strings.Contains(out, "acme.com") || strings.Contains(out, "deactivated") ||
		strings.Index(out, "carbon.super") > strings.Index(out, "acme.com") {
		t.Fatalf("tenant list: %v\n%s", err, out)
	}
	if out, err := run("", "tenant deactivate", "--domain", "carbon.super"); err == nil || !strings.Contains(out, "super tenant") {
		t.Errorf("deactivate the super tenant: %v\n%s", err, out)
	}
	if out, err := run("", "tenant deactivate", "--domain", "nowhere.example"); err == nil || !strings.Contains(out, "no tenant") {
		t.Errorf("deactivate an unknown tenant: %v\n%s", err, out)
	}
	if out, err := run("", "tenant deactivate", "--domain", "acme.com"); err != nil {
		t.Fatalf("tenant deactivate: %v\n%s", err, out)
	}
	if out, err := run("", "tenant list"); err != nil || !strings.Contains(out, "deactivated") {
		t.Errorf("tenant list after deactivate: %v\n%s", err, out)
	}

	d := openStore(t, dir)
	ctx := t.Context()
	acme, err := d.TenantByDomain(ctx, "acme.com")
	if err != nil || acme.Active {
		t.Fatalf("acme.com: %+v, %v", acme, err)
	}
	for _, c := range []struct {
		name     string
		tenantID int64
		disabled bool
	}{
		{"admin@acme.com", acme.ID, true}, {"alice@acme.com", acme.ID, true}, {"john@example.org", portal.SuperTenantID, false},
	} {
		u, err := d.UserAccount(ctx, c.name)
		if err != nil || u.TenantID != c.tenantID || u.Disabled != c.disabled {
			t.Errorf("%s: %+v, %v; want tenant %d, disabled %v", c.name, u, err, c.tenantID, c.disabled)
		}
	}
	if u, err := d.UserAccount(ctx, "admin@acme.com"); err != nil || !strings.Contains(strings.Join(u.Roles, " "), "admin") {
		t.Errorf("the tenant's administrator: %+v, %v", u, err)
	}
	if out, err := run("", "tenant activate", "--domain", "acme.com"); err != nil {
		t.Fatalf("tenant activate: %v\n%s", err, out)
	}
	if u, err := d.UserAccount(ctx, "alice@acme.com"); err != nil || u.Disabled {
		t.Errorf("alice@acme.com after activate: %+v, %v", u, err)
	}
	events, err := d.AuditEvents(ctx, portal.AuditQuery{Event: portal.AuditTenantDeactivated})
	if err != nil || len(events) != 1 || !strings.Contains(events[0].Detail, "acme.com") {
		t.Errorf("audit: %+v, %v", events, err)
	}
}

// TestAPIImportTenant: api import --tenant acme.com publishes the API as
// acme.com's, under /t/acme.com/, and --update finds it there keeping
// whether it is shared; x-tiers may name the tenant's own tiers; an
// unknown or deactivated tenant, a /t/ context outside the tenant and a
// tier the tenant lacks are refused with a message.
func TestAPIImportTenant(t *testing.T) {
	dir := newDataDir(t)
	if out, err := runIn(dir, "acme-admin-password\n", "tenant create", "--domain", "acme.com", "--admin", "admin"); err != nil {
		t.Fatalf("tenant create: %v\n%s", err, out)
	}
	doc := filepath.Join(dir, "orders.yaml")
	if err := os.WriteFile(doc, []byte(`openapi: 3.0.3
info: {title: Orders, version: "1.0"}
servers: [{url: "https://orders.example.com"}]
paths: {/items: {get: {responses: {"200": {description: ok}}}}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := runOK(t, "api", "import", doc, "--data-dir", dir, "--tenant", "ACME.com"); !strings.Contains(out, "published Orders 1.0 at /t/acme.com/orders/1.0") {
		t.Errorf("import --tenant: %q", out)
	}
	d := openStore(t, dir)
	ctx := t.Context()
	acme, err := d.TenantByDomain(ctx, "acme.com")
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.APIByContext(ctx, "/t/acme.com/orders", "1.0")
	if err != nil || a.TenantID != acme.ID || a.Shared {
		t.Fatalf("the imported API: %+v, %v", a, err)
	}
	a.Shared = true
	if err := d.UpdateAPI(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	if out := runOK(t, "api", "import", doc, "--data-dir", dir, "--tenant", "acme.com", "--update"); !strings.Contains(out, "updated Orders 1.0 at /t/acme.com/orders/1.0") {
		t.Errorf("import --tenant --update: %q", out)
	}
	if a, err := d.APIByContext(ctx, "/t/acme.com/orders", "1.0"); err != nil || a.TenantID != acme.ID || !a.Shared {
		t.Errorf("after --update: %+v, %v", a, err)
	}
	if out := runOK(t, "api", "import", doc, "--data-dir", dir, "--context", "/t/acme.com/orders2", "--tenant", "acme.com"); !strings.Contains(out, "at /t/acme.com/orders2/1.0") {
		t.Errorf("a context given with its /t/acme.com: %q", out)
	}
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--tenant", "nowhere.example"}, `no tenant "nowhere.example"`},
		{[]string{"--tenant", "acme.com", "--context", "/t/beta.org/orders"}, "without /t/"},
		{[]string{"--context", "/t/acme.com/orders3"}, "kept for tenants' APIs"},
	} {
		if msg := runFails(t, append([]string{"api", "import", doc, "--data-dir", dir}, c.flags...)...); !strings.Contains(msg, c.want) {
			t.Errorf("import %v: %q, want %q", c.flags, msg, c.want)
		}
	}

	// x-tiers may name the tenant's own tiers, and only those.
	platinum := filepath.Join(dir, "platinum.yaml")
	if err := os.WriteFile(platinum, []byte(`openapi: 3.0.3
info: {title: Gold Orders, version: "1.0"}
x-tiers: [Gold, Platinum]
servers: [{url: "https://orders.example.com"}]
paths: {/items: {get: {responses: {"200": {description: ok}}}}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg := runFails(t, "api", "import", platinum, "--data-dir", dir, "--tenant", "acme.com"); !strings.Contains(msg,
		`x-tiers: the tenant has no tier "Platinum" (its tiers: Unlimited, Gold, Silver, Bronze; apistore tier set adds one)`) {
		t.Errorf("import offering a tier acme.com lacks: %q", msg)
	}
	runOK(t, "tier", "set", "--data-dir", dir, "--tenant", "acme.com", "--name", "Platinum", "--rpm", "100")
	if out := runOK(t, "api", "import", platinum, "--data-dir", dir, "--tenant", "acme.com"); !strings.Contains(out, "published Gold Orders 1.0") {
		t.Errorf("import offering acme.com's own tier: %q", out)
	}
	if a, err := d.APIByContext(ctx, "/t/acme.com/gold-orders", "1.0"); err != nil || !slices.Equal(a.Tiers, []string{"Gold", "Platinum"}) {
		t.Errorf("the API offering Platinum: %+v, %v", a, err)
	}
	if msg := runFails(t, "api", "import", platinum, "--data-dir", dir); !strings.Contains(msg, `the tenant has no tier "Platinum"`) {
		t.Errorf("the super tenant offering acme.com's tier: %q", msg)
	}

	if err := d.SetTenantActive(ctx, "acme.com", false); err != nil {
		t.Fatal(err)
	}
	if msg := runFails(t, "api", "import", doc, "--data-dir", dir, "--tenant", "acme.com", "--context", "/other"); !strings.Contains(msg, "deactivated") {
		t.Errorf("import into a deactivated tenant: %q", msg)
	}
}

// TestWSO2TenantCurl runs the WSO2 docs' curl commands against the binary
// with a tenant user, alice@acme.com, and a key of her application: the
// password grant, introspection and revocation carry her full name.
func TestWSO2TenantCurl(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, "--store-port", "0", "--https-port", "0", "--http-port", "0")
	s.admin(t, "acme-admin-password\n", "tenant create", "--domain", "acme.com", "--admin", "admin")
	s.admin(t, "alice-password\n", "user create", "--username", "alice@acme.com")
	var k keys
	if err := json.Unmarshal([]byte(s.admin(t, "", "app create", "--owner", "alice@acme.com", "--name", "DefaultApplication")), &k); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(k.Production.ConsumerKey + ":" + k.Production.ConsumerSecret))
	tok := curl(t, "-k", "-d", "grant_type=password&username=alice@acme.com&password=alice-password&scope=PRODUCTION",
		"-H", "Authorization: Basic "+b64, "-H", "Content-Type: application/x-www-form-urlencoded", s.urls["https"]+"/token")
	access, _ := tok["access_token"].(string)
	if access == "" {
		t.Fatalf("token: %v", tok)
	}
	if got := curl(t, "-k", "-d", "token="+access, "-H", "Authorization: Basic "+b64, s.urls["https"]+"/introspect"); got["active"] != true ||
		got["username"] != "alice@acme.com" {
		t.Errorf("introspect: %v", got)
	}
	// A bare name is the super tenant's, not acme.com's admin.
	if got := curl(t, "-k", "-d", "grant_type=password&username=admin&password=acme-admin-password",
		"-H", "Authorization: Basic "+b64, s.urls["https"]+"/token"); got["error"] != "invalid_grant" {
		t.Errorf("a bare name with acme.com's key: %v", got)
	}
	status, h := curlHeaders(t, "-k", "-v", "-d", "token="+access, "-H", "Authorization: Basic "+b64,
		"-H", "Content-Type: application/x-www-form-urlencoded", s.urls["http"]+"/revoke")
	if status != 200 || h.Get("Revokedaccesstoken") != access || h.Get("Authorizeduser") != "alice@acme.com" {
		t.Fatalf("revoke: %d %v", status, h)
	}
}

// TestTenantUserCommands: user list --tenant lists one tenant's users; the
// user commands take full names (alice@acme.com, bob@carbon.super); what
// they do is in the audit trail of the user's tenant, a deleted user's
// too; disabling a tenant's last admin warns about that tenant.
func TestTenantUserCommands(t *testing.T) {
	dir := newDataDir(t)
	run := func(stdin, command string, flags ...string) (string, error) {
		return runIn(dir, stdin, command, flags...)
	}
	if out, err := run("acme-admin-password\n", "tenant create", "--domain", "acme.com", "--admin", "admin"); err != nil {
		t.Fatalf("tenant create: %v\n%s", err, out)
	}
	for _, name := range []string{"alice@acme.com", "bob"} {
		if out, err := run("a-long-password\n", "user create", "--username", name); err != nil {
			t.Fatalf("user create %s: %v\n%s", name, err, out)
		}
	}
	for _, c := range []struct {
		tenant    string
		want, not []string
	}{
		{"acme.com", []string{"admin@acme.com", "alice@acme.com"}, []string{"bob"}},
		{"carbon.super", []string{"bob"}, []string{"acme.com"}},
		{"", []string{"admin@acme.com", "alice@acme.com", "bob"}, nil},
	} {
		out, err := run("", "user list", "--tenant", c.tenant)
		if err != nil {
			t.Fatalf("user list --tenant %q: %v\n%s", c.tenant, err, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("user list --tenant %q: no %s\n%s", c.tenant, w, out)
			}
		}
		for _, w := range c.not {
			if strings.Contains(out, w) {
				t.Errorf("user list --tenant %q: shows %s\n%s", c.tenant, w, out)
			}
		}
	}
	if out, err := run("", "user list", "--tenant", "nowhere.example"); err == nil || !strings.Contains(out, `no tenant "nowhere.example"`) {
		t.Errorf("user list of an unknown tenant: %v\n%s", err, out)
	}
	for _, c := range [][]string{
		{"user disable", "--username", "bob@carbon.super"},
		{"user enable", "--username", "BOB@carbon.super"},
		{"user disable", "--username", "alice@acme.com"},
		{"user delete", "--username", "alice@acme.com"},
	} {
		if out, err := run("", c[0], c[1:]...); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	d := openStore(t, dir)
	acme, err := d.TenantByDomain(t.Context(), "acme.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tenant int64
		want   string
	}{
		{acme.ID, "[user_deleted alice@acme.com user_disabled alice@acme.com user_created alice@acme.com tenant_created admin@acme.com]"},
		{portal.SuperTenantID, "[user_enabled bob user_disabled bob user_created bob]"},
	} {
		events, err := d.AuditEvents(t.Context(), portal.AuditQuery{TenantID: c.tenant})
		var got []string
		for _, e := range events {
			got = append(got, e.Event+" "+e.Username)
		}
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("tenant %d's trail: %v, %v; want %s", c.tenant, got, err, c.want)
		}
	}
	// Disabling acme.com's only admin warns, naming the tenant.
	if out, err := run("", "user disable", "--username", "admin@acme.com"); err != nil ||
		!strings.Contains(out, "no enabled user has the admin role now in acme.com") {
		t.Errorf("disable acme.com's only admin: %v\n%s", err, out)
	}
}
