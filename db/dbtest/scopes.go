package dbtest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/db"
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
			if err := d.PutScope(ctx, st.put); err != nil {
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
			if err := d.PutScope(t.Context(), oauth.Scope{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		got := names(scopes(t, d), func(s oauth.Scope) string { return s.Name })
		if want := []string{"Admin", "apim:subscribe", "read", "write"}; !slices.Equal(got, want) {
			t.Errorf("scopes %q, want %q", got, want)
		}
		if list, err := s.store(t).Scopes(t.Context()); err != nil || len(list) != 0 {
			t.Errorf("scopes of an empty store: %+v, %v", list, err)
		}
	})

	t.Run("ScopesByName returns the registered ones among the names", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		for _, sc := range []oauth.Scope{{Name: "read", Description: "Read"}, {Name: "update", Roles: []string{"admin"}}, {Name: "delete"}} {
			if err := d.PutScope(ctx, sc); err != nil {
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
			got, err := d.ScopesByName(ctx, tt.ask)
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
				if err := d.PutScope(t.Context(), existing); err != nil {
					t.Fatal(err)
				}
				if err := how.save(t, d, tt.given); err != nil {
					t.Fatal(err)
				}
				got, err := d.ScopesByName(t.Context(), []string{tt.want.Name})
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
	list, err := d.Scopes(t.Context())
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
