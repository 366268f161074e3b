package db_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apistore/apistore/db"
)

// TestPointSampleAPI: each start points the sample API at the backend's new
// address, unless a publisher changed an endpoint since.
func TestPointSampleAPI(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(filepath.Join(t.TempDir(), "apistore.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.SeedSample(ctx); err != nil {
		t.Fatal(err)
	}
	sample := func() *db.API {
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
