package dbtest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func testScopes(t *testing.T, s *suite) {
	t.Run("PutScope creates a scope or replaces its description and roles", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		steps := []struct {
			put  oauth.Scope
			want []oauth.Scope
		}{
			{oauth.Scope{Name: "write", Description: "Write", Roles: []string{"admin"}},
				[]oauth.Scope{{Name: "write", Description: "Write", Roles: []string{"admin"}}}},
			{oauth.Scope{Name: "read", Description: "Read"},
				[]oauth.Scope{{Name: "read", Description: "Read"}, {Name: "write", Description: "Write", Roles: []string{"admin"}}}},
			{oauth.Scope{Name: "write", Description: "Write it", Roles: []string{"editor", "admin"}},
				[]oauth.Scope{{Name: "read", Description: "Read"}, {Name: "write", Description: "Write it", Roles: []string{"editor", "admin"}}}},
			// PutScope is a whole replacement: empty fields empty them.
			{oauth.Scope{Name: "write"},
				[]oauth.Scope{{Name: "read", Description: "Read"}, {Name: "write"}}},
		}
		for i, st := range steps {
			if err := d.PutScope(ctx, "", st.put); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if got := scopes(t, d); !sameScopes(got, st.want) {
				t.Errorf("step %d: %+v, want %+v", i, got, st.want)
			}
		}
	})

	t.Run("Scopes lists by name in byte order", func(t *testing.T) {
		d := s.store(t)
		for _, name := range []string{"write", "Admin", "read", "apim:subscribe"} {
			if err := d.PutScope(t.Context(), "", oauth.Scope{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		got := names(scopes(t, d), func(s oauth.Scope) string { return s.Name })
		if want := []string{"Admin", "apim:subscribe", "read", "write"}; !slices.Equal(got, want) {
			t.Errorf("scopes %q, want %q", got, want)
		}
		if list, err := s.store(t).Scopes(t.Context(), ""); err != nil || len(list) != 0 {
			t.Errorf("scopes of an empty store: %+v, %v", list, err)
		}
	})

	t.Run("ScopesByName returns the registered ones among the names", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		for _, sc := range []oauth.Scope{{Name: "read", Description: "Read"}, {Name: "update", Roles: []string{"admin"}}, {Name: "delete"}} {
			if err := d.PutScope(ctx, "", sc); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			ask  []string
			want []string
		}{
			{nil, nil},
			{[]string{}, nil},
			{[]string{"read"}, []string{"read"}},
			{[]string{"update", "read", "unknown"}, []string{"read", "update"}},
			{[]string{"unknown", "READ", "read "}, nil},
			{[]string{"read", "read"}, []string{"read"}},
		} {
			got, err := d.ScopesByName(ctx, "", tt.ask)
			if err != nil {
				t.Errorf("%q: %v", tt.ask, err)
				continue
			}
			slices.SortFunc(got, func(a, b oauth.Scope) int { return strings.Compare(a.Name, b.Name) })
			if n := names(got, func(s oauth.Scope) string { return s.Name }); !slices.Equal(n, tt.want) {
				t.Errorf("%q: %q, want %q", tt.ask, n, tt.want)
			}
			for _, sc := range got {
				if sc.Name == "update" && !sameWords(sc.Roles, []string{"admin"}) || sc.Name == "read" && sc.Description != "Read" {
					t.Errorf("%q: scope %+v", tt.ask, sc)
				}
			}
		}
	})

	// ImportAPI and UpdateAPI register the scopes an API's resources name:
	// a scope that exists keeps its description and roles unless new ones
	// are given.
	existing := oauth.Scope{Name: "read", Description: "Read things", Roles: []string{"admin"}}
	for _, tt := range []struct {
		name  string
		given oauth.Scope
		want  oauth.Scope
	}{
		{"an existing scope named alone stays as it was", oauth.Scope{Name: "read"}, existing},
		{"a new description replaces the old, the roles stay", oauth.Scope{Name: "read", Description: "Read more"},
			oauth.Scope{Name: "read", Description: "Read more", Roles: []string{"admin"}}},
		{"new roles replace the old, the description stays", oauth.Scope{Name: "read", Roles: []string{"subscriber"}},
			oauth.Scope{Name: "read", Description: "Read things", Roles: []string{"subscriber"}}},
		{"a new scope is created", oauth.Scope{Name: "order", Description: "Order"}, oauth.Scope{Name: "order", Description: "Order"}},
	} {
		for _, how := range []struct {
			name string
			save func(t *testing.T, d db.Store, sc oauth.Scope) error
		}{
			{"ImportAPI", func(t *testing.T, d db.Store, sc oauth.Scope) error {
				return d.ImportAPI(t.Context(), newAPI("Pizza", "/pizza", "v1"), []oauth.Scope{sc})
			}},
			{"UpdateAPI", func(t *testing.T, d db.Store, sc oauth.Scope) error {
				a := createAPI(t, d, "Pizza", "/pizza", "v1")
				a.Description = "edited"
				return d.UpdateAPI(t.Context(), a, []oauth.Scope{sc})
			}},
		} {
			t.Run(how.name+": "+tt.name, func(t *testing.T) {
				d := s.store(t)
				if err := d.PutScope(t.Context(), "", existing); err != nil {
					t.Fatal(err)
				}
				if err := how.save(t, d, tt.given); err != nil {
					t.Fatal(err)
				}
				got, err := d.ScopesByName(t.Context(), "", []string{tt.want.Name})
				if err != nil || len(got) != 1 || !sameScopes(got, []oauth.Scope{tt.want}) {
					t.Errorf("scope after %s: %+v, %v; want %+v", how.name, got, err, tt.want)
				}
			})
		}
	}

	t.Run("a scope named twice in one import takes the later", func(t *testing.T) {
		d := s.store(t)
		err := d.ImportAPI(t.Context(), newAPI("Pizza", "/pizza", "v1"),
			[]oauth.Scope{{Name: "order", Description: "first"}, {Name: "order", Description: "second", Roles: []string{"admin"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := scopes(t, d), []oauth.Scope{{Name: "order", Description: "second", Roles: []string{"admin"}}}; !sameScopes(got, want) {
			t.Errorf("scopes %+v, want %+v", got, want)
		}
	})

	t.Run("a refused ImportAPI registers no scope", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		createAPI(t, d, "Pizza", "/pizza", "v1")
		err := d.ImportAPI(ctx, newAPI("Again", "/pizza", "v1"), []oauth.Scope{{Name: "order", Description: "Order"}, {Name: "pay"}})
		if !errors.Is(err, portal.ErrConflict) {
			t.Fatalf("import over an existing API: %v, want ErrConflict", err)
		}
		if list := scopes(t, d); len(list) != 0 {
			t.Errorf("scopes left by the refused import: %+v", list)
		}
	})
}

// scopes lists d's scopes.
func scopes(t testing.TB, d db.Store) []oauth.Scope {
	t.Helper()
	list, err := d.Scopes(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// sameScopes compares lists of scopes; nil and empty roles are the same.
func sameScopes(a, b []oauth.Scope) bool {
	return slices.EqualFunc(a, b, func(x, y oauth.Scope) bool {
		return x.Name == y.Name && x.Description == y.Description && sameWords(x.Roles, y.Roles)
	})
}

// testTenantScopes: a scope is its tenant's. The same name in two tenants
// is two scopes, each with its own description and roles; a lookup in one
// never sees the other's, and an API's resources register their scopes in
// the API's tenant.
func testTenantScopes(t *testing.T, s *suite) {
	t.Run("the same name in two tenants is two scopes", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		fixture.Tenant(t, d, "acme.com")
		fixture.Tenant(t, d, "beta.org")
		for _, put := range []struct {
			tenant string
			scope  oauth.Scope
		}{
			{"", oauth.Scope{Name: "read", Description: "Super read"}},
			{"acme.com", oauth.Scope{Name: "read", Description: "Acme read", Roles: []string{"partner"}}},
			{"acme.com", oauth.Scope{Name: "orders", Description: "Acme orders"}},
			{"beta.org", oauth.Scope{Name: "partner", Roles: []string{"partner"}}},
		} {
			if err := d.PutScope(ctx, put.tenant, put.scope); err != nil {
				t.Fatalf("PutScope(%q, %+v): %v", put.tenant, put.scope, err)
			}
		}
		for _, tt := range []struct {
			tenant string
			want   []oauth.Scope
		}{
			{"", []oauth.Scope{{Name: "read", Description: "Super read"}}},
			{portal.SuperTenant, []oauth.Scope{{Name: "read", Description: "Super read"}}},
			{"acme.com", []oauth.Scope{{Name: "orders", Description: "Acme orders"}, {Name: "read", Description: "Acme read", Roles: []string{"partner"}}}},
			{"ACME.com", []oauth.Scope{{Name: "orders", Description: "Acme orders"}, {Name: "read", Description: "Acme read", Roles: []string{"partner"}}}},
			{"beta.org", []oauth.Scope{{Name: "partner", Roles: []string{"partner"}}}},
			{"gamma.net", nil},
		} {
			got, err := d.Scopes(ctx, tt.tenant)
			if err != nil || !sameScopes(got, tt.want) {
				t.Errorf("Scopes(%q): %+v, %v; want %+v", tt.tenant, got, err, tt.want)
			}
			byName, err := d.ScopesByName(ctx, tt.tenant, []string{"read", "orders", "partner"})
			slices.SortFunc(byName, func(a, b oauth.Scope) int { return strings.Compare(a.Name, b.Name) })
			if err != nil || !sameScopes(byName, tt.want) {
				t.Errorf("ScopesByName(%q): %+v, %v; want %+v", tt.tenant, byName, err, tt.want)
			}
		}
		if err := d.PutScope(ctx, "gamma.net", oauth.Scope{Name: "read"}); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("PutScope of an unknown tenant: %v, want ErrNotFound", err)
		}
	})

	t.Run("an API's resources register their scopes in its tenant", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		acme, _ := fixture.Tenant(t, d, "acme.com")
		if err := d.PutScope(ctx, "", oauth.Scope{Name: "update", Description: "Super update", Roles: []string{"admin"}}); err != nil {
			t.Fatal(err)
		}
		a := newAPI("Pizza", portal.TenantContext("acme.com", "/pizza"), "v1")
		a.TenantID = acme.ID
		if err := d.ImportAPI(ctx, a, []oauth.Scope{{Name: "update", Description: "Acme update"}}); err != nil {
			t.Fatal(err)
		}
		a.TenantID = 0 // UpdateAPI goes by the stored API's tenant
		if err := d.UpdateAPI(ctx, a, []oauth.Scope{{Name: "cancel"}}); err != nil {
			t.Fatal(err)
		}
		want := []oauth.Scope{{Name: "cancel"}, {Name: "update", Description: "Acme update"}}
		if got, err := d.Scopes(ctx, "acme.com"); err != nil || !sameScopes(got, want) {
			t.Errorf("acme.com's scopes: %+v, %v; want %+v", got, err, want)
		}
		want = []oauth.Scope{{Name: "update", Description: "Super update", Roles: []string{"admin"}}}
		if got, err := d.Scopes(ctx, ""); err != nil || !sameScopes(got, want) {
			t.Errorf("the super tenant's scopes: %+v, %v; want %+v", got, err, want)
		}
	})
}
