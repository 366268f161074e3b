package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// TestTenantAdministration: a tenant's administrator has the users pages,
// the audit trail and the usage page of their tenant alone: another
// tenant's users and events are not listed, and every action on another
// tenant's user answers 404 as for a missing one; events are recorded in
// the tenant of the user they name (else of the store they happened in).
// The super tenant's administrator sees every tenant's, with a tenant
// column and filter. A tenant's only administrator may not delete their
// account.
func TestTenantAdministration(t *testing.T) {
	e := newTenantStoreEnv(t)
	ctx := context.Background()
	hash, err := oauth.HashPassword("example-admin-password")
	if err != nil {
		t.Fatal(err)
	}
	example := &portal.Tenant{Domain: "example.org"}
	if err := e.db.CreateTenant(ctx, example, &portal.User{User: oauth.User{Username: "admin", PasswordHash: hash, Roles: []string{"admin"}}}); err != nil {
		t.Fatal(err)
	}
	fixture.User(t, e.db, "bob@acme.com", "bob-password", "subscriber")
	fixture.User(t, e.db, "carol@example.org", "carol-password", "subscriber")
	if _, _, err := e.db.DisableUser(ctx, "carol@example.org", time.Now()); err != nil {
		t.Fatal(err)
	}

	// Events: example.org's admin locked out by five wrong passwords, a
	// made-up name at example.org's store, alice's log-in (the super
	// tenant's), acme.com's admin's log-in.
	intruder := e.userAgent(t)
	for range 5 {
		intruder.logIn(intruder.get(e.store.URL+"/t/example.org/store/login"), "admin", "wrong-password")
	}
	intruder.logIn(intruder.get(e.store.URL+"/t/example.org/store/login"), "nobody", "wrong-password")
	e.loggedIn(t)
	acme := e.userAgent(t)
	acme.logIn(acme.get(e.store.URL+"/t/acme.com/store/login"), "admin", "acme-admin-password")
	root := e.userAgent(t)
	root.logIn(root.get(e.store.URL+"/store/login"), "root", "root-password")

	shows := func(page resp, want, wantNot []string) {
		t.Helper()
		if page.status != http.StatusOK {
			t.Fatalf("%s: %d", page.url, page.status)
		}
		pageHas(t, page, want, wantNot)
	}
	others := []string{"admin@example.org", "carol@example.org", ">alice<", "(unknown user"}

	// The audit trail: acme.com's own events, no tenant column, whatever
	// the query asks.
	shows(acme.get(e.store.URL+"/store/admin/audit"), []string{"admin@acme.com", ">login<"}, append(others, "<th>Tenant</th>"))
	shows(acme.get(e.store.URL+"/store/admin/audit?user=admin@example.org"), []string{"No event matches"}, []string{`data-testid="audit-event"`})
	shows(acme.get(e.store.URL+"/store/admin/audit?tenant=example.org"), []string{"admin@acme.com"}, others)
	// The super tenant's: every tenant's, filtered by tenant.
	shows(root.get(e.store.URL+"/store/admin/audit"), []string{"<th>Tenant</th>", "admin@acme.com", "admin@example.org", ">alice<", "(unknown user"}, nil)
	shows(root.get(e.store.URL+"/store/admin/audit?tenant=example.org"), []string{"admin@example.org", "(unknown user", ">lockout<"},
		[]string{"admin@acme.com", ">alice<"})
	if page := root.get(e.store.URL + "/store/admin/audit?tenant=nowhere.example"); page.status != http.StatusUnprocessableEntity ||
		!strings.Contains(page.body, "There is no such tenant.") {
		t.Errorf("an unknown tenant filter: %d", page.status)
	}

	// The users page: acme.com's users, no other tenant's lockout.
	users := acme.get(e.store.URL + "/store/admin/users")
	shows(users, []string{"admin@acme.com", "bob@acme.com", "No lockout under way."}, others)
	shows(acme.get(e.store.URL+"/store/admin/users?q=example"), []string{"No user matches"}, others[:2])
	rootUsers := root.get(e.store.URL + "/store/admin/users")
	shows(rootUsers, []string{"admin@acme.com", "admin@example.org", "carol@example.org", ">alice<"}, nil)
	ref := regexp.MustCompile(`data-testid="user-admin@example.org"(?s:.*?)name="ref" value="([0-9a-f]{32})"`).FindStringSubmatch(rootUsers.body)
	if ref == nil {
		t.Fatalf("no lockout of admin@example.org on the super tenant's Users page:\n%s", rootUsers.body)
	}

	// Every action on another tenant's user is a 404, and changes nothing.
	if got := acme.get(e.store.URL + "/store/admin/users/disable?username=admin@example.org").status; got != http.StatusNotFound {
		t.Errorf("acme.com's admin asks to disable admin@example.org: %d, want 404", got)
	}
	for _, post := range []struct{ path, field, value string }{
		{"/store/admin/users/disable", "username", "admin@example.org"},
		{"/store/admin/users/enable", "username", "carol@example.org"},
		{"/store/admin/users/unlock", "ref", ref[1]},
	} {
		if page := acme.submitTo(users, post.path, url.Values{post.field: {post.value}}); page.status != http.StatusNotFound {
			t.Errorf("POST %s %s by acme.com's admin: %d, want 404", post.path, post.value, page.status)
		}
	}
	if u, err := e.db.UserAccount(ctx, "admin@example.org"); err != nil || u.Disabled {
		t.Errorf("admin@example.org after acme.com's admin's disable: %+v, %v", u, err)
	}
	if u, err := e.db.UserAccount(ctx, "carol@example.org"); err != nil || !u.Disabled {
		t.Errorf("carol@example.org after acme.com's admin's enable: %+v, %v", u, err)
	}
	if !strings.Contains(root.get(e.store.URL+"/store/admin/users").body, ref[1]) {
		t.Error("admin@example.org's lockout ended by acme.com's admin")
	}

	// Their own tenant's user: disabled, the event in acme.com's trail.
	if got := acme.get(e.store.URL + "/store/admin/users/disable?username=bob@acme.com").status; got != http.StatusOK {
		t.Errorf("acme.com's admin asks to disable bob@acme.com: %d", got)
	}
	acme.submitTo(users, "/store/admin/users/disable", url.Values{"username": {"bob@acme.com"}})
	if u, err := e.db.UserAccount(ctx, "bob@acme.com"); err != nil || !u.Disabled {
		t.Errorf("bob@acme.com after acme.com's admin's disable: %+v, %v", u, err)
	}
	events, err := e.db.AuditEvents(ctx, portal.AuditQuery{TenantID: e.acme.ID, Event: portal.AuditUserDisabled})
	if err != nil || len(events) != 1 || events[0].Username != "bob@acme.com" || events[0].Tenant != "acme.com" {
		t.Errorf("acme.com's user_disabled events: %+v, %v", events, err)
	}

	// acme.com's only administrator may not delete their account, though
	// the super tenant has one.
	shows(acme.get(e.store.URL+"/store/account/delete"), []string{"You are the only user with the admin role"}, nil)

	// The usage page: the calls to acme.com's APIs, and no token figures.
	now := time.Now()
	if err := e.db.RecordUsage(ctx, []portal.Usage{
		{At: now, AppID: 1, APIID: e.orders.ID, APIName: e.orders.Name, APIVersion: "1.0", Method: "GET", Resource: "/items", KeyType: "PRODUCTION", Status: 200},
		{At: now, AppID: 1, APIID: e.superPriv.ID, APIName: e.superPriv.Name, APIVersion: "1.0", Method: "GET", Resource: "/items", KeyType: "PRODUCTION", Status: 200},
	}); err != nil {
		t.Fatal(err)
	}
	shows(acme.get(e.store.URL+"/store/admin/usage"), []string{"Usage of acme.com&#39;s APIs", "AcmeOrders 1.0"},
		[]string{"SuperPrivate", "Tokens issued", "Active tokens"})
	shows(root.get(e.store.URL+"/store/admin/usage"), []string{"AcmeOrders 1.0", "SuperPrivate 1.0", "Tokens issued", "Active tokens"}, nil)
}
