package dbtest

import (
	"errors"
	"slices"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/portal"
)

// testTiers: a tenant's tiers are its own; one of its own tiers stays
// while an API of the tenant offers it or a subscription is on it.
func testTiers(t *testing.T, s *suite) {
	d := s.store(t)
	ctx := t.Context()
	acme, admin := fixture.Tenant(t, d, "acme.com")
	beta, _ := fixture.Tenant(t, d, "beta.org")
	for _, tier := range []portal.Tier{
		{TenantID: acme.ID, Name: "Platinum", RPM: 10000, Description: "Lots"},
		{TenantID: acme.ID, Name: "Gold", RPM: 7},
		{TenantID: beta.ID, Name: "Platinum", RPM: 50},
		{TenantID: acme.ID, Name: "Platinum", RPM: 20000, Description: "More"}, // replaces the first
	} {
		if err := d.PutTier(ctx, tier); err != nil {
			t.Fatalf("PutTier(%+v): %v", tier, err)
		}
	}
	if err := d.PutTier(ctx, portal.Tier{TenantID: 9999, Name: "Gold", RPM: 1}); !errors.Is(err, portal.ErrNotFound) {
		t.Errorf("PutTier of an unknown tenant: %v, want ErrNotFound", err)
	}
	want := map[int64][]portal.Tier{
		acme.ID: {{TenantID: acme.ID, Name: "Gold", RPM: 7, Custom: true}, {TenantID: acme.ID, Name: "Platinum", RPM: 20000, Description: "More", Custom: true}},
		beta.ID: {{TenantID: beta.ID, Name: "Platinum", RPM: 50, Custom: true}},
		0:       nil,
	}
	for id, w := range want {
		if got, err := d.Tiers(ctx, id); err != nil || !slices.Equal(got, w) {
			t.Errorf("Tiers(%d): %+v, %v; want %+v", id, got, err, w)
		}
	}
	if all, err := d.CustomTiers(ctx); err != nil || len(all) != 3 {
		t.Errorf("CustomTiers: %+v, %v", all, err)
	}

	a := newAPI("Orders", portal.TenantContext("acme.com", "/orders"), "v1")
	a.TenantID, a.Tiers = acme.ID, []string{"Gold", "Platinum"}
	if err := d.CreateAPI(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteTier(ctx, acme.ID, "Platinum"); !errors.Is(err, portal.ErrConflict) {
		t.Errorf("deleting a tier an API offers: %v, want ErrConflict", err)
	}
	a.Tiers = []string{"Gold"}
	if err := d.UpdateAPI(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	prod, _ := fixture.App(t, d, admin, "AcmeApp")
	if err := d.Subscribe(ctx, prod.AppID, a.ID, "Platinum"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteTier(ctx, acme.ID, "Platinum"); !errors.Is(err, portal.ErrConflict) {
		t.Errorf("deleting a tier a subscription is on: %v, want ErrConflict", err)
	}
	if err := d.Unsubscribe(ctx, prod.AppID, a.ID); err != nil {
		t.Fatal(err)
	}
	app, err := d.OwnedApplication(ctx, admin.ID, prod.AppID)
	if err != nil {
		t.Fatal(err)
	}
	app.Tier = "Platinum"
	if err := d.UpdateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteTier(ctx, acme.ID, "Platinum"); !errors.Is(err, portal.ErrConflict) {
		t.Errorf("deleting the tier of an application: %v, want ErrConflict", err)
	}
	app.Tier = "Gold"
	if err := d.UpdateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	// beta.org's Platinum is not acme.com's business, nor the reverse.
	for _, del := range []struct {
		tenant int64
		name   string
	}{{acme.ID, "Platinum"}, {acme.ID, "Gold"}, {beta.ID, "Platinum"}} {
		if err := d.DeleteTier(ctx, del.tenant, del.name); err != nil {
			t.Errorf("DeleteTier(%d, %s): %v", del.tenant, del.name, err)
		}
	}
	if err := d.DeleteTier(ctx, acme.ID, "Platinum"); !errors.Is(err, portal.ErrNotFound) {
		t.Errorf("deleting a tier twice: %v, want ErrNotFound", err)
	}
	if all, err := d.CustomTiers(ctx); err != nil || len(all) != 0 {
		t.Errorf("CustomTiers after deleting them all: %+v, %v", all, err)
	}
}
