package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/portal"
)

// TestPointSampleAPI: each start points the sample API at the backend's new
// address, unless a publisher changed an endpoint since.
func TestPointSampleAPI(t *testing.T) {
	ctx := context.Background()
	d, err := sqlite.Open(filepath.Join(t.TempDir(), "apistore.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.SeedSample(ctx); err != nil {
		t.Fatal(err)
	}
	sample := func() *portal.API {
		apis, err := d.PublishedAPIs(ctx)
		if err != nil || len(apis) != 1 {
			t.Fatalf("published APIs: %v %v", apis, err)
		}
		return &apis[0]
	}
	for _, url := range []string{"http://127.0.0.1:1111", "http://127.0.0.1:2222"} {
		if err := d.PointSampleAPI(ctx, url); err != nil {
			t.Fatal(err)
		}
		if a := sample(); a.ProductionURL != url || a.SandboxURL != url {
			t.Fatalf("after pointing at %s: %s, %s", url, a.ProductionURL, a.SandboxURL)
		}
	}
	a := sample()
	a.SandboxURL = "https://sandbox.example.com"
	if err := d.UpdateAPI(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.PointSampleAPI(ctx, "http://127.0.0.1:3333"); err != nil {
		t.Fatal(err)
	}
	if a := sample(); a.ProductionURL != "http://127.0.0.1:3333" || a.SandboxURL != "https://sandbox.example.com" {
		t.Errorf("the publisher's sandbox endpoint was overwritten: %s, %s", a.ProductionURL, a.SandboxURL)
	}
}

// TestAPIPrefixOverlap: the gateway routes a call to the shortest prefix
// that fits, so an API whose context/version starts with another's, or is
// the start of another's, is refused, naming the other API, whether
// created or edited, and whatever the other's status.
func TestAPIPrefixOverlap(t *testing.T) {
	ctx := context.Background()
	d, err := sqlite.Open(filepath.Join(t.TempDir(), "apistore.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.SeedSample(ctx); err != nil { // /pizzashack/1.0.0
		t.Fatal(err)
	}
	api := func(context, version string) *portal.API {
		return &portal.API{Name: "Other", Version: version, Context: context, ProductionURL: "https://x.example.com",
			Resources: []portal.Resource{{Method: "GET", Path: "/menu"}}}
	}
	for _, tt := range []struct {
		context, version string
		overlaps         bool
	}{
		{"/pizzashack/1.0.0", "v2", true}, // /pizzashack/1.0.0/v2 is under the sample
		{"/pizzashack/1.0.0/menu", "v1", true},
		{"/pizzashack", "1.0.0", false}, // the same context and version: ErrConflict
		{"/pizzashack", "2.0.0", false},
		{"/pizzashack/1.0", "v1", false}, // /pizzashack/1.0/v1: no whole segment in common
		{"/pizzashack/1.0.00", "v1", false},
		{"/pizza", "shack", false},
	} {
		err := d.CreateAPI(ctx, api(tt.context, tt.version))
		var overlap *portal.OverlapError
		if got := errors.As(err, &overlap); got != tt.overlaps {
			t.Errorf("%s %s: %v, want overlap %v", tt.context, tt.version, err, tt.overlaps)
			continue
		}
		if tt.overlaps && (overlap.Other.Name != "PizzaShackAPI" || !strings.Contains(err.Error(), "PizzaShackAPI 1.0.0 (/pizzashack/1.0.0/…)")) {
			t.Errorf("%s %s: %v, want it to name PizzaShackAPI", tt.context, tt.version, err)
		}
	}
	// /shop/v1 is under no API, but an API at /shop would hold it.
	shop := api("/shop/v1", "x")
	if err := d.CreateAPI(ctx, shop); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAPIStatus(ctx, shop.ID, portal.APIRetired); err != nil {
		t.Fatal(err)
	}
	var overlap *portal.OverlapError
	if err := d.CreateAPI(ctx, api("/shop", "v1")); !errors.As(err, &overlap) || !strings.Contains(err.Error(), "retired API") {
		t.Errorf("over a retired API: %v", err)
	}
	// An edit into another API's space is refused; an API does not overlap itself.
	shop.Context, shop.Version = "/pizzashack/1.0.0/shop", "v1"
	if err := d.UpdateAPI(ctx, shop, nil); !errors.As(err, &overlap) {
		t.Errorf("edit into the sample's prefix: %v", err)
	}
	shop.Context, shop.Version = "/shop/v1", "y"
	if err := d.UpdateAPI(ctx, shop, nil); err != nil {
		t.Errorf("edit of the API itself: %v", err)
	}
}
