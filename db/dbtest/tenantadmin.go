package dbtest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// tenantOf makes a tenant with its admin (admin@domain).
func tenantOf(t *testing.T, d db.Store, domain string) (*portal.Tenant, *portal.User) {
	t.Helper()
	tn := &portal.Tenant{Domain: domain}
	admin := &portal.User{User: oauth.User{Username: "admin", PasswordHash: "$not-a-hash$", Roles: []string{"admin"}}}
	if err := d.CreateTenant(t.Context(), tn, admin); err != nil {
		t.Fatal(err)
	}
	return tn, admin
}

// testTenantAdmin: each tenant has its own audit trail, users and usage,
// which its administrators read alone (issue 16). One store serves the
// three parts (a store costs seconds on PostgreSQL).
func testTenantAdmin(t *testing.T, s *suite) {
	d := s.store(t)
	acme, acmeAdmin := tenantOf(t, d, "acme.com")
	example, _ := tenantOf(t, d, "example.org")
	alice := user(t, d, "alice")
	user(t, d, "bob@acme.com")
	acmeKey, _ := fixture.App(t, d, acmeAdmin, "AcmeApp")

	t.Run("an event is the tenant's whose user or key it names, else the one given; a tenant's trail is its own", func(t *testing.T) {
		ctx := t.Context()
		for i, e := range []portal.AuditEvent{
			{Event: portal.AuditLogin, Username: "ADMIN@acme.com", Detail: "acme by name"},
			{Event: portal.AuditKeysGenerated, Client: acmeKey.ConsumerKey + " other-key", Detail: "acme by key"},
			{Event: portal.AuditLoginFailed, Username: "(unknown user 0a)", TenantID: example.ID, Detail: "example by the store"},
			{Event: portal.AuditLogin, Username: alice.Username, TenantID: acme.ID, Detail: "super by name"},
			{Event: portal.AuditLockout, Detail: "super by default"},
			{Event: portal.AuditUserDisabled, Username: "admin@example.org", Client: acmeKey.ConsumerKey, Detail: "example: the user first"},
		} {
			e.At = t0.Add(time.Duration(i) * time.Second)
			if err := d.RecordAudit(ctx, &e); err != nil {
				t.Fatal(err)
			}
		}
		trail := func(q portal.AuditQuery) string {
			t.Helper()
			got, err := d.AuditEvents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(names(got, func(e portal.AuditEvent) string { return e.Tenant + ": " + e.Detail }))
		}
		if got, want := trail(portal.AuditQuery{TenantID: acme.ID}), "[acme.com: acme by key acme.com: acme by name]"; got != want {
			t.Errorf("acme.com's trail: %s, want %s", got, want)
		}
		if got, want := trail(portal.AuditQuery{TenantID: example.ID}), "[example.org: example: the user first example.org: example by the store]"; got != want {
			t.Errorf("example.org's trail: %s, want %s", got, want)
		}
		if got, want := trail(portal.AuditQuery{TenantID: portal.SuperTenantID}), "[carbon.super: super by default carbon.super: super by name]"; got != want {
			t.Errorf("the super tenant's trail: %s, want %s", got, want)
		}
		if got, want := trail(portal.AuditQuery{TenantID: acme.ID, Event: portal.AuditLogin, Limit: 1}), "[acme.com: acme by name]"; got != want {
			t.Errorf("acme.com's trail filtered: %s, want %s", got, want)
		}
		all, err := d.AuditEvents(ctx, portal.AuditQuery{})
		if err != nil || len(all) != 6 {
			t.Fatalf("every tenant's trail: %d events, %v", len(all), err)
		}
		if got, want := trail(portal.AuditQuery{TenantID: acme.ID, BeforeID: all[4].ID}), "[acme.com: acme by name]"; all[4].Detail != "acme by key" || got != want {
			t.Errorf("acme.com's trail before %q: %s, want %s", all[4].Detail, got, want)
		}
		hour := portal.BucketOf(t0, portal.Hour)
		counts, err := d.AuditCounts(ctx, acme.ID, portal.Hour, hour, hour.Add(time.Hour))
		if err != nil || fmt.Sprint(counts) != fmt.Sprint([]portal.EventCount{{Bucket: hour, Name: portal.AuditKeysGenerated, Count: 1},
			{Bucket: hour, Name: portal.AuditLogin, Count: 1}}) {
			t.Errorf("acme.com's AuditCounts: %v, %v", counts, err)
		}
	})

	t.Run("users are listed per tenant, or all", func(t *testing.T) {
		ctx := t.Context()
		list := func(tenant int64, filter string) []string {
			t.Helper()
			got, err := d.ListUsers(ctx, tenant, filter, 10)
			if err != nil {
				t.Fatal(err)
			}
			return names(got, func(u portal.User) string { return u.Username })
		}
		for _, tt := range []struct {
			tenant int64
			filter string
			want   []string
		}{
			{0, "", []string{"admin@acme.com", "admin@example.org", "alice", "bob@acme.com"}},
			{acme.ID, "", []string{"admin@acme.com", "bob@acme.com"}},
			{acme.ID, "BOB", []string{"bob@acme.com"}},
			{acme.ID, "alice", nil},
			{portal.SuperTenantID, "", []string{"alice"}},
		} {
			if got := list(tt.tenant, tt.filter); !slices.Equal(got, tt.want) {
				t.Errorf("ListUsers(%d, %q): %q, want %q", tt.tenant, tt.filter, got, tt.want)
			}
		}
	})

	t.Run("a tenant's usage is the calls to its APIs", func(t *testing.T) {
		ctx := t.Context()
		superAPI := createAPI(t, d, "Super", "/super", "1")
		acmeAPI := &portal.API{Name: "Acme", Version: "1", Context: portal.TenantContext(acme.Domain, "/orders"), TenantID: acme.ID}
		if err := d.CreateAPI(ctx, acmeAPI); err != nil {
			t.Fatal(err)
		}
		var calls []portal.Usage
		for i, api := range []int64{superAPI.ID, acmeAPI.ID, acmeAPI.ID} {
			c := call(int64(i+1), i)
			c.APIID = api
			calls = append(calls, c)
		}
		record(t, d, calls)
		q := portal.UsageQuery{Span: portal.Hour, From: portal.BucketOf(t0, portal.Hour), To: portal.BucketOf(t0, portal.Hour).Add(time.Hour), TenantID: acme.ID}
		byAPI, err := d.UsageCallsByAPI(ctx, q)
		if err != nil || len(byAPI) != 1 || byAPI[0].APIID != acmeAPI.ID || byAPI[0].Calls != 2 {
			t.Errorf("acme.com's calls by API: %+v, %v", byAPI, err)
		}
		byKind, err := d.UsageCallsByKind(ctx, q)
		if err != nil || len(byKind) != 1 || byKind[0].Calls != 2 {
			t.Errorf("acme.com's calls by kind: %+v, %v", byKind, err)
		}
		top, err := d.UsageTopApps(ctx, q, 10)
		if err != nil || fmt.Sprint(names(top, func(a portal.AppCount) string { return fmt.Sprint(a.AppID, ":", a.Calls) })) != "[2:1 3:1]" {
			t.Errorf("acme.com's top applications: %+v, %v", top, err)
		}
		q.TenantID = 0
		if byAPI, err := d.UsageCallsByAPI(ctx, q); err != nil || len(byAPI) != 2 {
			t.Errorf("every tenant's calls by API: %+v, %v", byAPI, err)
		}
	})
}
