package dbtest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func testTenants(t *testing.T, s *suite) {
	t.Run("the super tenant holds what exists; a tenant is made with its admin, under the full name", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		if alice.TenantID != 0 {
			t.Fatalf("CreateUser set TenantID %d", alice.TenantID)
		}
		list, err := d.Tenants(ctx)
		if err != nil || len(list) != 1 || list[0].ID != portal.SuperTenantID || list[0].Domain != portal.SuperTenant || !list[0].Active {
			t.Fatalf("Tenants of a new store: %+v, %v", list, err)
		}
		got, err := d.UserAccount(ctx, "alice@carbon.super")
		if err != nil || got.ID != alice.ID || got.Tenant != portal.SuperTenant || got.TenantID != portal.SuperTenantID || got.Disabled {
			t.Fatalf("UserAccount(alice@carbon.super): %+v, %v", got, err)
		}
		acme := &portal.Tenant{Domain: "Acme.com"}
		admin := &portal.User{User: oauth.User{Username: "admin", PasswordHash: "$not-a-hash$", Roles: []string{"admin"}}}
		if err := d.CreateTenant(ctx, acme, admin); err != nil || acme.ID <= portal.SuperTenantID || !acme.Active || admin.ID == 0 {
			t.Fatalf("CreateTenant: %v, %+v, admin %+v", err, acme, admin)
		}
		if admin.Username != "admin@acme.com" || acme.Domain != "acme.com" {
			t.Errorf("admin %q of %q, want admin@acme.com of acme.com", admin.Username, acme.Domain)
		}
		got, err = d.UserAccount(ctx, "ADMIN@acme.com")
		if err != nil || got.ID != admin.ID || got.Tenant != "acme.com" || got.TenantID != acme.ID || got.Disabled {
			t.Fatalf("UserAccount(ADMIN@acme.com): %+v, %v", got, err)
		}
		if _, err := d.UserAccount(ctx, "admin"); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("the super tenant's admin found the tenant's: %v", err)
		}
		if err := d.CreateTenant(ctx, &portal.Tenant{Domain: "acme.COM"}, &portal.User{User: oauth.User{Username: "x"}}); !errors.Is(err, portal.ErrConflict) {
			t.Errorf("a taken domain: %v, want ErrConflict", err)
		}
		user(t, d, "john@beta.org") // a super-tenant e-mail username
		if err := d.CreateTenant(ctx, &portal.Tenant{Domain: "beta.org"}, &portal.User{User: oauth.User{Username: "x"}}); !errors.Is(err, portal.ErrConflict) {
			t.Errorf("a domain a super-tenant username ends with: %v, want ErrConflict", err)
		}
		if _, err := d.TenantByDomain(ctx, "beta.org"); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("the refused tenant was kept: %v", err)
		}
		if _, err := d.UserAccount(ctx, "x@acme.com"); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("the refused tenant's admin was kept: %v", err)
		}
		list, err = d.Tenants(ctx)
		if err != nil || len(list) != 2 || list[0].Domain != portal.SuperTenant || list[1].Domain != "acme.com" {
			t.Fatalf("Tenants: %+v, %v", list, err)
		}
	})

	t.Run("a deactivated tenant's users, keys and tokens are refused until it is activated", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		acme := &portal.Tenant{Domain: "acme.com"}
		admin := &portal.User{User: oauth.User{Username: "admin", PasswordHash: "$not-a-hash$"}}
		if err := d.CreateTenant(ctx, acme, admin); err != nil {
			t.Fatal(err)
		}
		prod, _ := fixture.App(t, d, admin, "AcmeApp")
		tok := token(prod, admin, oauth.GrantPassword)
		save(t, d, tok)
		alice := user(t, d, "alice")
		superKey, _ := fixture.App(t, d, alice, "App")
		superTok := token(superKey, alice, oauth.GrantPassword)
		save(t, d, superTok)

		info, err := d.AccessToken(ctx, tok.AccessHash)
		if err != nil || info.Username != "admin@acme.com" || info.Tenant != "acme.com" {
			t.Fatalf("AccessToken of the tenant's: %+v, %v", info, err)
		}
		c, err := d.ClientByKey(ctx, prod.ConsumerKey)
		if err != nil || c.Tenant != "acme.com" {
			t.Fatalf("ClientByKey: %+v, %v", c, err)
		}
		if err := d.SetTenantActive(ctx, "ACME.com", false); err != nil {
			t.Fatalf("deactivate: %v", err)
		}
		if _, err := d.AccessToken(ctx, tok.AccessHash); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("AccessToken of a deactivated tenant: %v, want ErrNotFound", err)
		}
		if _, err := d.RefreshTokenInfo(ctx, tok.RefreshHash); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("RefreshTokenInfo of a deactivated tenant: %v, want ErrNotFound", err)
		}
		if _, err := d.ClientByKey(ctx, prod.ConsumerKey); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("ClientByKey of a deactivated tenant: %v, want ErrNotFound", err)
		}
		if _, err := d.UserRoles(ctx, admin.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("UserRoles of a deactivated tenant's user: %v, want ErrNotFound", err)
		}
		u, err := d.UserAccount(ctx, "admin@acme.com")
		if err != nil || !u.Disabled || u.TenantActive || !u.DisabledAt.IsZero() {
			t.Errorf("UserAccount of a deactivated tenant's user: %+v, %v", u, err)
		}
		if info, err := d.AccessToken(ctx, superTok.AccessHash); err != nil || info.Username != "alice@carbon.super" {
			t.Errorf("the super tenant's token: %+v, %v", info, err)
		}
		list, err := d.Tenants(ctx)
		if err != nil || len(list) != 2 || list[1].Active {
			t.Errorf("Tenants: %+v, %v", list, err)
		}
		if err := d.SetTenantActive(ctx, "acme.com", false); err != nil {
			t.Errorf("deactivate again: %v", err)
		}
		if err := d.SetTenantActive(ctx, "acme.com", true); err != nil {
			t.Fatalf("activate: %v", err)
		}
		if _, err := d.AccessToken(ctx, tok.AccessHash); err != nil {
			t.Errorf("AccessToken after activation: %v", err)
		}
		if err := d.SetTenantActive(ctx, portal.SuperTenant, false); !errors.Is(err, portal.ErrConflict) {
			t.Errorf("deactivate the super tenant: %v, want ErrConflict", err)
		}
		if err := d.SetTenantActive(ctx, "nowhere.example", false); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("an unknown tenant: %v, want ErrNotFound", err)
		}
	})

	t.Run("a tenant's APIs keep their tenant and sharing, and a deactivated tenant's are not published", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		acme := &portal.Tenant{Domain: "acme.com"}
		if err := d.CreateTenant(ctx, acme, &portal.User{User: oauth.User{Username: "admin"}}); err != nil {
			t.Fatal(err)
		}
		mine := &portal.API{Name: "Super", Version: "1", Context: "/super"}
		theirs := &portal.API{Name: "Acme", Version: "1", Context: portal.TenantContext(acme.Domain, "/orders"), TenantID: acme.ID, Shared: true}
		for _, a := range []*portal.API{mine, theirs} {
			if err := d.CreateAPI(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		got, err := d.APIByID(ctx, theirs.ID)
		if err != nil || got.TenantID != acme.ID || !got.Shared || got.Context != "/t/acme.com/orders" {
			t.Fatalf("APIByID: %+v, %v", got, err)
		}
		if got, err := d.APIByID(ctx, mine.ID); err != nil || got.TenantID != portal.SuperTenantID || got.Shared ||
			!got.VisibleTo(portal.SuperTenantID) || got.VisibleTo(acme.ID) {
			t.Fatalf("the super tenant's API: %+v, %v", got, err)
		}
		published := func() (names []string) {
			list, err := d.PublishedAPIs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range list {
				names = append(names, a.Name)
			}
			return names
		}
		if got := published(); len(got) != 2 {
			t.Errorf("PublishedAPIs: %v", got)
		}
		private := &portal.API{Name: "AcmePrivate", Version: "1", Context: "/t/acme.com/private", TenantID: acme.ID,
			Tags: []string{"acme-private"}}
		if err := d.CreateAPI(ctx, private); err != nil {
			t.Fatal(err)
		}
		if err := d.UpdateAPI(ctx, &portal.API{ID: theirs.ID, Name: theirs.Name, Version: "1", Context: theirs.Context,
			TenantID: acme.ID, Shared: true, Status: portal.APIPublished, Tags: []string{"acme-shared"}}, nil); err != nil {
			t.Fatal(err)
		}
		type seen struct {
			tenant     int64
			apis, tags string
		}
		sees := func(c seen) {
			t.Helper()
			page, err := d.SearchAPIs(ctx, portal.SearchQuery{Tenant: c.tenant})
			var names []string
			for _, a := range page.APIs {
				names = append(names, a.Name)
			}
			if err != nil || strings.Join(names, " ") != c.apis || page.Total != len(names) {
				t.Errorf("SearchAPIs of tenant %d: %v (%d), %v; want %s", c.tenant, names, page.Total, err, c.apis)
			}
			counts, err := d.PublishedTags(ctx, c.tenant, 10)
			var tags []string
			for _, tc := range counts {
				tags = append(tags, tc.Tag)
			}
			slices.Sort(tags)
			if err != nil || strings.Join(tags, " ") != c.tags {
				t.Errorf("PublishedTags of tenant %d: %v, %v; want %s", c.tenant, tags, err, c.tags)
			}
		}
		sees(seen{0, "Acme Super", "acme-shared"})
		sees(seen{acme.ID, "Acme AcmePrivate", "acme-private acme-shared"})
		if err := d.SetTenantActive(ctx, acme.Domain, false); err != nil {
			t.Fatal(err)
		}
		if got := published(); len(got) != 1 || got[0] != "Super" {
			t.Errorf("PublishedAPIs with acme.com deactivated: %v", got)
		}
		// Nor are its shared APIs in other tenants' catalogues.
		sees(seen{0, "Super", ""})
	})
	t.Run("SeedTenants adds tenants with their admins and APIs in batches, each all or nothing", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		n := portal.SeedBatch + 2 // two batches
		seeds := make([]portal.TenantSeed, n)
		for i := range seeds {
			domain := fmt.Sprintf("t%d.example", i)
			seeds[i] = portal.TenantSeed{Tenant: &portal.Tenant{Domain: domain},
				Admin: &portal.User{User: oauth.User{Username: "admin", PasswordHash: "$not-a-hash$", Roles: []string{"admin"}}},
				APIs: []*portal.API{{Name: "Orders", Version: "1.0", Context: portal.TenantContext(domain, "/orders"),
					Resources: []portal.Resource{{Method: "GET", Path: "/items"}}}}}
		}
		if err := d.SeedTenants(ctx, seeds); err != nil {
			t.Fatal(err)
		}
		list, err := d.Tenants(ctx)
		if err != nil || len(list) != n+1 {
			t.Fatalf("Tenants after seeding %d: %d, %v", n, len(list), err)
		}
		last := seeds[n-1]
		admin, err := d.UserAccount(ctx, "admin@"+last.Tenant.Domain)
		if err != nil || admin.ID != last.Admin.ID || admin.TenantID != last.Tenant.ID || !last.Tenant.Active {
			t.Fatalf("the last tenant's admin: %+v, %v (seeded %+v)", admin, err, last.Admin)
		}
		a, err := d.APIByContext(ctx, "/t/"+last.Tenant.Domain+"/orders", "1.0")
		if err != nil || a.ID != last.APIs[0].ID || a.TenantID != last.Tenant.ID || len(a.Resources) != 1 {
			t.Fatalf("the last tenant's API: %+v, %v", a, err)
		}
		taken := []portal.TenantSeed{
			{Tenant: &portal.Tenant{Domain: "fresh.example"}, Admin: &portal.User{User: oauth.User{Username: "admin"}}},
			{Tenant: &portal.Tenant{Domain: "T0.example"}, Admin: &portal.User{User: oauth.User{Username: "admin"}}},
		}
		if err := d.SeedTenants(ctx, taken); !errors.Is(err, portal.ErrConflict) {
			t.Errorf("a batch with a taken domain: %v, want ErrConflict", err)
		}
		if _, err := d.TenantByDomain(ctx, "fresh.example"); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("the refused batch's first tenant was kept: %v", err)
		}
	})
}
