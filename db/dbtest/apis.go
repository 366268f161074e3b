package dbtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func testAPIs(t *testing.T, s *suite) {
	t.Run("a created API reads back with its resources, by id and by context", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		a := newAPI("Pizza", "/pizza", "v1")
		if err := d.CreateAPI(ctx, a); err != nil {
			t.Fatal(err)
		}
		if a.ID == 0 || a.Status != portal.APIPublished || !slices.Equal(a.Tiers, portal.Tiers) {
			t.Errorf("after CreateAPI: id %d, status %q, tiers %q; want an id, published, every tier", a.ID, a.Status, a.Tiers)
		}
		for _, r := range a.Resources {
			if r.ID == 0 {
				t.Errorf("resource %s %s has no id", r.Method, r.Path)
			}
		}
		byID, err := d.APIByID(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		byContext, err := d.APIByContext(ctx, "/pizza", "v1")
		if err != nil {
			t.Fatal(err)
		}
		for how, got := range map[string]*portal.API{"APIByID": byID, "APIByContext": byContext} {
			if got.ID != a.ID || got.Name != "Pizza" || got.Version != "v1" || got.Context != "/pizza" || got.Description != "Pizza API" ||
				got.ProductionURL != a.ProductionURL || got.SandboxURL != a.SandboxURL || !slices.Equal(got.Tiers, portal.Tiers) ||
				got.Status != portal.APIPublished || got.CreatedAt.IsZero() {
				t.Errorf("%s: %+v", how, got)
			}
			// Resources come by path, then method.
			if want := []portal.Resource{a.Resources[1], a.Resources[0]}; !slices.Equal(got.Resources, want) {
				t.Errorf("%s resources: %+v, want %+v", how, got.Resources, want)
			}
		}
	})

	t.Run("an API keeps its CORS settings and definition; lists leave the definition out", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		a := newAPI("Pizza", "/pizza", "v1")
		a.CORS = portal.CORS{Origins: []string{"https://app.example.com", "*"}, Headers: []string{"Authorization", "X-Trace"}, Methods: []string{"GET"}}
		a.Definition = []byte(`{"openapi":"3.0.3","info":{"title":"Pizza \u00e9","version":"v1"},"paths":{}}`)
		if err := d.CreateAPI(ctx, a); err != nil {
			t.Fatal(err)
		}
		check := func(when string, want portal.CORS, wantDef []byte) {
			t.Helper()
			got, err := d.APIByID(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.CORS.Origins, want.Origins) || !slices.Equal(got.CORS.Headers, want.Headers) ||
				!slices.Equal(got.CORS.Methods, want.Methods) || string(got.Definition) != string(wantDef) {
				t.Errorf("%s: CORS %+v, definition %q; want %+v, %q", when, got.CORS, got.Definition, want, wantDef)
			}
			byContext, err := d.APIByContext(ctx, a.Context, a.Version)
			if err != nil || string(byContext.Definition) != string(wantDef) {
				t.Errorf("%s: APIByContext definition %q, %v", when, byContext.Definition, err)
			}
			list, err := d.PublishedAPIs(ctx)
			if err != nil || len(list) != 1 || list[0].Definition != nil || !slices.Equal(list[0].CORS.Origins, want.Origins) {
				t.Errorf("%s: listed %+v, %v; want the CORS settings without the definition", when, list, err)
			}
		}
		check("created", a.CORS, a.Definition)
		a.CORS, a.Definition = portal.CORS{Origins: []string{"https://other.example.com"}}, nil
		if err := d.UpdateAPI(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		check("updated", a.CORS, nil)
	})

	// The API's gateway settings that are one box each: set on one API of
	// two, kept by every read, changed by an update.
	for _, setting := range []struct {
		what  string
		field func(*portal.API) *bool
	}{
		{"whether its method overrides are passed on", func(a *portal.API) *bool { return &a.PassMethodOverride }},
		{"whether its backend gets a JWT", func(a *portal.API) *bool { return &a.BackendJWT }},
	} {
		t.Run("an API keeps "+setting.what, func(t *testing.T) {
			d := s.store(t)
			ctx := t.Context()
			a := newAPI("Pizza", "/pizza", "v1")
			*setting.field(a) = true
			if err := d.CreateAPI(ctx, a); err != nil {
				t.Fatal(err)
			}
			other := createAPI(t, d, "Pasta", "/pasta", "v1")
			check := func(when string, want bool) {
				t.Helper()
				got, err := d.APIByID(ctx, a.ID)
				if err != nil || *setting.field(got) != want {
					t.Errorf("%s: APIByID %+v, %v; want %v", when, got, err, want)
				}
				list, err := d.PublishedAPIs(ctx)
				if err != nil || len(list) != 2 || list[0].ID != other.ID || *setting.field(&list[0]) ||
					list[1].ID != a.ID || *setting.field(&list[1]) != want {
					t.Errorf("%s: listed %+v, %v; want it set on Pizza alone (%v)", when, list, err, want)
				}
			}
			check("created", true)
			*setting.field(a) = false
			if err := d.UpdateAPI(ctx, a, nil); err != nil {
				t.Fatal(err)
			}
			check("updated", false)
		})
	}

	t.Run("an API keeps the tiers it was given", func(t *testing.T) {
		d := s.store(t)
		a := newAPI("Pizza", "/pizza", "v1")
		a.Tiers = []string{"Gold", "Bronze"}
		if err := d.CreateAPI(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		if got, err := d.APIByID(t.Context(), a.ID); err != nil || !slices.Equal(got.Tiers, []string{"Gold", "Bronze"}) {
			t.Errorf("tiers: %+v, %v", got, err)
		}
	})

	t.Run("the same context and version is a conflict", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		createAPI(t, d, "Pizza", "/pizza", "v1")
		for _, tt := range []struct {
			name     string
			save     func(a *portal.API) error
			conflict bool
		}{
			{"CreateAPI, same version", func(a *portal.API) error { return d.CreateAPI(ctx, a) }, true},
			{"ImportAPI, same version", func(a *portal.API) error { return d.ImportAPI(ctx, a, nil) }, true},
			{"CreateAPI, another version", func(a *portal.API) error { a.Version = "v2"; return d.CreateAPI(ctx, a) }, false},
		} {
			err := tt.save(newAPI("Pizza again", "/pizza", "v1"))
			var overlap *portal.OverlapError
			if got := errors.Is(err, portal.ErrConflict); got != tt.conflict || (!tt.conflict && err != nil) || errors.As(err, &overlap) {
				t.Errorf("%s: %v, want conflict %v (not an overlap)", tt.name, err, tt.conflict)
			}
		}
		other := createAPI(t, d, "Other", "/other", "v1")
		other.Context = "/pizza"
		if err := d.UpdateAPI(ctx, other, nil); !errors.Is(err, portal.ErrConflict) {
			t.Errorf("UpdateAPI onto /pizza v1: %v, want ErrConflict", err)
		}
	})

	t.Run("a gateway prefix overlapping another API's is refused, naming it", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		if err := d.SeedSample(ctx); err != nil { // /pizzashack/1.0.0
			t.Fatal(err)
		}
		for _, tt := range []struct {
			apiContext, version string
			overlaps            bool
		}{
			{"/pizzashack/1.0.0", "v2", true}, // /pizzashack/1.0.0/v2 is under the sample
			{"/pizzashack/1.0.0/menu", "v1", true},
			{"/pizzashack", "1.0.0", false}, // the same context and version: ErrConflict
			{"/pizzashack", "2.0.0", false},
			{"/pizzashack/1.0", "v1", false}, // /pizzashack/1.0/v1: no whole segment in common
			{"/pizzashack/1.0.00", "v1", false},
			{"/pizza", "shack", false},
			{"/Pizzashack/1.0.0", "v1", false}, // paths are case-sensitive
		} {
			err := d.CreateAPI(ctx, newAPI("Other", tt.apiContext, tt.version))
			var overlap *portal.OverlapError
			if got := errors.As(err, &overlap); got != tt.overlaps {
				t.Errorf("%s %s: %v, want overlap %v", tt.apiContext, tt.version, err, tt.overlaps)
				continue
			}
			if tt.overlaps && (overlap.Other.Name != "PizzaShackAPI" || overlap.Other.Version != "1.0.0" ||
				overlap.Prefix != tt.apiContext+"/"+tt.version || !strings.Contains(err.Error(), "PizzaShackAPI 1.0.0 (/pizzashack/1.0.0/…)")) {
				t.Errorf("%s %s: %v (%+v), want it to name PizzaShackAPI", tt.apiContext, tt.version, err, overlap)
			}
		}
		// /shop/v1/x is under no API, but an API at /shop/v1 would hold
		// it, retired or not.
		shop := createAPI(t, d, "Shop", "/shop/v1", "x")
		if err := d.SetAPIStatus(ctx, shop.ID, portal.APIRetired); err != nil {
			t.Fatal(err)
		}
		var overlap *portal.OverlapError
		if err := d.CreateAPI(ctx, newAPI("Above", "/shop", "v1")); !errors.As(err, &overlap) || !strings.Contains(err.Error(), "retired API") {
			t.Errorf("over a retired API: %v", err)
		}
		if err := d.ImportAPI(ctx, newAPI("Above", "/shop", "v1"), nil); !errors.As(err, &overlap) {
			t.Errorf("ImportAPI over a retired API: %v", err)
		}
		// An edit into another API's space is refused; an API does not
		// overlap itself.
		shop.Context, shop.Version = "/pizzashack/1.0.0/shop", "v1"
		if err := d.UpdateAPI(ctx, shop, nil); !errors.As(err, &overlap) {
			t.Errorf("edit into the sample's prefix: %v", err)
		}
		shop.Context, shop.Version = "/shop/v1", "y"
		if err := d.UpdateAPI(ctx, shop, nil); err != nil {
			t.Errorf("edit of the API itself: %v", err)
		}
	})

	t.Run("prefixes are compared as paths, not patterns", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		createAPI(t, d, "Under", "/my_api", "v1")
		createAPI(t, d, "Percent", "/100%", "v1")
		for _, a := range []struct{ apiContext, version string }{
			{"/myXapi/v1/orders", "v1"}, // _ is no wildcard
			{"/100abc/v1/orders", "v1"}, // nor %
			{"/my", "_api"},
		} {
			if err := d.CreateAPI(ctx, newAPI("Other", a.apiContext, a.version)); err != nil {
				t.Errorf("%s %s: %v", a.apiContext, a.version, err)
			}
		}
		var overlap *portal.OverlapError
		if err := d.CreateAPI(ctx, newAPI("Inside", "/my_api/v1/orders", "v1")); !errors.As(err, &overlap) || overlap.Other.Name != "Under" {
			t.Errorf("an API under /my_api/v1: %v", err)
		}
	})

	t.Run("a refused API leaves nothing behind", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		a := newAPI("Pizza", "/pizza", "v1")
		a.Resources = append(a.Resources, a.Resources[0]) // one resource twice
		if err := d.CreateAPI(ctx, a); err == nil {
			t.Fatal("an API with a resource twice was stored")
		}
		got, err := d.APIByContext(ctx, "/pizza", "v1")
		mustNotFound(t, "the refused API", got, err)
		if list, err := d.AllAPIs(ctx); err != nil || len(list) != 0 {
			t.Errorf("APIs: %+v, %v", list, err)
		}
		createAPI(t, d, "Pizza", "/pizza", "v1")
	})

	t.Run("UpdateAPI saves the fields and replaces the resources", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		a := createAPI(t, d, "Pizza", "/pizza", "v1")
		a.Name, a.Version, a.Context, a.Description = "Pasta", "v2", "/pasta", "edited"
		a.ProductionURL, a.SandboxURL, a.Tiers = "https://p.example.com", "", []string{"Bronze"}
		a.Resources = []portal.Resource{{Method: "DELETE", Path: "/order/{id}", Scope: "update"}}
		if err := d.UpdateAPI(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		got, err := d.APIByID(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Pasta" || got.Version != "v2" || got.Context != "/pasta" || got.Description != "edited" ||
			got.ProductionURL != "https://p.example.com" || got.SandboxURL != "" || !slices.Equal(got.Tiers, []string{"Bronze"}) {
			t.Errorf("after UpdateAPI: %+v", got)
		}
		if len(got.Resources) != 1 || got.Resources[0].Method != "DELETE" || got.Resources[0].Path != "/order/{id}" ||
			got.Resources[0].Scope != "update" || got.Resources[0].ID == 0 {
			t.Errorf("resources after UpdateAPI: %+v", got.Resources)
		}
		old, err := d.APIByContext(ctx, "/pizza", "v1")
		mustNotFound(t, "the old context", old, err)
		missing := newAPI("Missing", "/missing", "v1")
		missing.ID, missing.Status = 999_999, portal.APIPublished
		if err := d.UpdateAPI(ctx, missing, []oauth.Scope{{Name: "ghost"}}); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("UpdateAPI of a missing API: %v, want ErrNotFound", err)
		}
		if sc := scopes(t, d); len(sc) != 0 {
			t.Errorf("the refused update registered scopes: %+v", sc)
		}
	})

	t.Run("a retired API is listed for the publisher only", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		pizza := createAPI(t, d, "Pizza", "/pizza", "v1")
		createAPI(t, d, "Pasta", "/pasta", "v1")
		if err := d.SetAPIStatus(ctx, pizza.ID, portal.APIRetired); err != nil {
			t.Fatal(err)
		}
		if got := apiNames(t, d.PublishedAPIs); !slices.Equal(got, []string{"Pasta v1"}) {
			t.Errorf("published: %q", got)
		}
		if got := apiNames(t, d.AllAPIs); !slices.Equal(got, []string{"Pasta v1", "Pizza v1"}) {
			t.Errorf("all: %q", got)
		}
		if a, err := d.APIByContext(ctx, "/pizza", "v1"); err != nil || a.Status != portal.APIRetired || len(a.Resources) != 2 {
			t.Errorf("the retired API by context: %+v, %v", a, err)
		}
		if err := d.SetAPIStatus(ctx, pizza.ID, portal.APIPublished); err != nil {
			t.Fatal(err)
		}
		if got := apiNames(t, d.PublishedAPIs); !slices.Equal(got, []string{"Pasta v1", "Pizza v1"}) {
			t.Errorf("published again: %q", got)
		}
		if err := d.SetAPIStatus(ctx, 999_999, portal.APIRetired); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("SetAPIStatus of a missing API: %v, want ErrNotFound", err)
		}
		if err := d.SetAPIStatus(ctx, pizza.ID, "DELETED"); err == nil {
			t.Error("an unknown status was stored")
		}
	})

	t.Run("APIs are listed by name in byte order, then version, with their resources", func(t *testing.T) {
		d := s.store(t)
		for _, a := range []struct{ name, apiContext, version string }{
			{"pizza", "/pizza2", "v2"}, {"Pizza", "/pizza", "v1"}, {"pizza", "/pizza1", "v1"}, {"Zeta", "/zeta", "v1"},
		} {
			createAPI(t, d, a.name, a.apiContext, a.version)
		}
		want := []string{"Pizza v1", "Zeta v1", "pizza v1", "pizza v2"}
		if got := apiNames(t, d.PublishedAPIs); !slices.Equal(got, want) {
			t.Errorf("published: %q, want %q", got, want)
		}
		list, err := d.AllAPIs(t.Context())
		if err != nil || len(list) != 4 {
			t.Fatalf("all: %+v, %v", list, err)
		}
		for _, a := range list {
			if len(a.Resources) != 2 || a.Resources[0].Path != "/menu" {
				t.Errorf("%s %s resources: %+v", a.Name, a.Version, a.Resources)
			}
		}
		if list, err := s.store(t).PublishedAPIs(t.Context()); err != nil || len(list) != 0 {
			t.Errorf("APIs of an empty store: %+v, %v", list, err)
		}
	})

	t.Run("SeedSample publishes the sample once", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		if err := d.PutScope(ctx, "", oauth.Scope{Name: "read", Description: "Mine", Roles: []string{"admin"}}); err != nil {
			t.Fatal(err)
		}
		if err := d.SeedSample(ctx); err != nil {
			t.Fatal(err)
		}
		sample, err := d.APIByContext(ctx, "/pizzashack", "1.0.0")
		if err != nil || sample.Name != "PizzaShackAPI" || sample.Status != portal.APIPublished || len(sample.Resources) != 3 {
			t.Fatalf("the sample: %+v, %v", sample, err)
		}
		want := []oauth.Scope{{Name: "read", Description: "Mine", Roles: []string{"admin"}}, {Name: "update", Description: "Place and change orders"}}
		if got := scopes(t, d); !sameScopes(got, want) {
			t.Errorf("scopes: %+v, want %+v (a scope of the same name is kept)", got, want)
		}
		if err := d.SetAPIStatus(ctx, sample.ID, portal.APIRetired); err != nil {
			t.Fatal(err)
		}
		if err := d.SeedSample(ctx); err != nil {
			t.Fatal(err)
		}
		if all := apiNames(t, d.AllAPIs); !slices.Equal(all, []string{"PizzaShackAPI 1.0.0"}) {
			t.Errorf("after seeding again: %q", all)
		}
		if again, err := d.APIByID(ctx, sample.ID); err != nil || again.Status != portal.APIRetired {
			t.Errorf("the retired sample was brought back: %+v, %v", again, err)
		}
		// Moved away, its place stays free.
		sample.Context, sample.Status = "/mypizza", portal.APIPublished
		if err := d.UpdateAPI(ctx, sample, nil); err != nil {
			t.Fatal(err)
		}
		if err := d.SeedSample(ctx); err != nil {
			t.Fatal(err)
		}
		if all := apiNames(t, d.AllAPIs); !slices.Equal(all, []string{"PizzaShackAPI 1.0.0"}) {
			t.Errorf("after moving the sample and seeding again: %q", all)
		}
	})

	t.Run("SeedSample leaves an API imported at the sample's place", func(t *testing.T) {
		for _, tt := range []struct{ name, apiContext, version string }{
			{"the same context and version", "/pizzashack", "1.0.0"},
			{"an overlapping prefix", "/pizzashack/1.0.0/orders", "v1"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				d := s.store(t)
				ctx := t.Context()
				mine := createAPI(t, d, "Mine", tt.apiContext, tt.version)
				if err := d.SeedSample(ctx); err != nil {
					t.Fatal(err)
				}
				if all := apiNames(t, d.AllAPIs); !slices.Equal(all, []string{"Mine " + tt.version}) {
					t.Errorf("APIs: %q, want only mine", all)
				}
				if got, err := d.APIByID(ctx, mine.ID); err != nil || got.Description != "Mine API" {
					t.Errorf("mine: %+v, %v", got, err)
				}
				if got := scopes(t, d); len(got) != 2 {
					t.Errorf("the sample's scopes: %+v", got)
				}
			})
		}
	})

	t.Run("SeedSample on two nodes at once publishes one sample", func(t *testing.T) {
		d, again := s.open(t)
		handles := []db.Store{d, again(t)}
		errs := make([]error, 8)
		together(len(errs), func(i int) { errs[i] = handles[i%2].SeedSample(t.Context()) })
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if all := apiNames(t, d.AllAPIs); !slices.Equal(all, []string{"PizzaShackAPI 1.0.0"}) {
			t.Errorf("APIs: %q", all)
		}
	})

	t.Run("PointSampleAPI follows the backend unless a publisher changed an endpoint", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		if err := d.PointSampleAPI(ctx, "http://127.0.0.1:1000"); err != nil {
			t.Errorf("before the sample is seeded: %v", err)
		}
		if err := d.SeedSample(ctx); err != nil {
			t.Fatal(err)
		}
		other := createAPI(t, d, "Other", "/other", "v1")
		sample := func() *portal.API {
			t.Helper()
			a, err := d.APIByContext(ctx, "/pizzashack", "1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		steps := []struct {
			name             string
			edit             func(a *portal.API)
			url              string
			production, sand string
		}{
			{"first start", nil, "http://127.0.0.1:1111", "http://127.0.0.1:1111", "http://127.0.0.1:1111"},
			{"next start", nil, "http://127.0.0.1:2222", "http://127.0.0.1:2222", "http://127.0.0.1:2222"},
			{"after the publisher set the sandbox", func(a *portal.API) { a.SandboxURL = "https://sandbox.example.com" },
				"http://127.0.0.1:3333", "http://127.0.0.1:3333", "https://sandbox.example.com"},
			{"after the publisher emptied production", func(a *portal.API) { a.ProductionURL = "" },
				"http://127.0.0.1:4444", "http://127.0.0.1:4444", "https://sandbox.example.com"},
		}
		for _, st := range steps {
			if st.edit != nil {
				a := sample()
				st.edit(a)
				if err := d.UpdateAPI(ctx, a, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.PointSampleAPI(ctx, st.url); err != nil {
				t.Fatal(err)
			}
			if a := sample(); a.ProductionURL != st.production || a.SandboxURL != st.sand {
				t.Errorf("%s: %s, %s; want %s, %s", st.name, a.ProductionURL, a.SandboxURL, st.production, st.sand)
			}
		}
		if got, err := d.APIByID(ctx, other.ID); err != nil || got.ProductionURL != other.ProductionURL || got.SandboxURL != other.SandboxURL {
			t.Errorf("another API was pointed: %+v, %v", got, err)
		}
	})
}

// apiNames lists the APIs list returns as "name version".
func apiNames(t *testing.T, list func(ctx context.Context) ([]portal.API, error)) []string {
	t.Helper()
	apis, err := list(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return names(apis, func(a portal.API) string { return a.Name + " " + a.Version })
}
