package sqlite

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// TestSearchPlansAgree: a search that matches many APIs goes through the
// index of names, one that matches few sorts them (fewMatches); both give
// the same pages.
func TestSearchPlansAgree(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "apistore.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i := range 40 {
		a := &portal.API{Name: fmt.Sprintf("%c Api %d", 'z'-i%26, i), Version: fmt.Sprintf("v%d", i%3), Context: fmt.Sprintf("/c%d", i),
			Description: fmt.Sprintf("word%d common", i%4), Tags: []string{fmt.Sprintf("t%d", i%2)},
			Resources: []portal.Resource{{Method: "GET", Path: "/x"}}}
		if err := d.CreateAPI(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := d.SetAPIStatus(t.Context(), a.ID, portal.APIRetired); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A deactivated tenant's shared API is in neither plan's pages.
	acme := &portal.Tenant{Domain: "acme.com"}
	if err := d.CreateTenant(t.Context(), acme, &portal.User{User: oauth.User{Username: "admin"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateAPI(t.Context(), &portal.API{Name: "a Acme", Version: "v1", Context: "/t/acme.com/c", TenantID: acme.ID, Shared: true,
		Description: "word1 common", Tags: []string{"t1"}, Resources: []portal.Resource{{Method: "GET", Path: "/x"}}}); err != nil {
		t.Fatal(err)
	}
	if err := d.SetTenantActive(t.Context(), acme.Domain, false); err != nil {
		t.Fatal(err)
	}
	defer func(n int) { fewMatches = n }(fewMatches)
	for _, q := range []portal.SearchQuery{
		{Text: "common"}, {Text: "word1"}, {Text: "api", Offset: 5, Limit: 7}, {Text: "common", Tags: []string{"t1"}, Offset: 3, Limit: 4},
		{Text: "common", Sort: portal.SortNewest, Offset: 2, Limit: 5}, {Text: "api z"}, {Text: "nothing"},
		{}, {Offset: 10, Limit: 5}, {Tags: []string{"t0"}}, {Tags: []string{"t1"}, Offset: 4, Limit: 3},
	} {
		var pages [2][]string
		for i, n := range []int{0, 1 << 30} {
			fewMatches = n
			page, err := d.SearchAPIs(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page.APIs {
				pages[i] = append(pages[i], a.Name+" "+a.Version)
			}
		}
		if slices.ContainsFunc(slices.Concat(pages[:]...), func(n string) bool { return n == "a Acme v1" }) {
			t.Errorf("%+v: a deactivated tenant's shared API: %q", q, pages)
		}
		if !slices.Equal(pages[0], pages[1]) {
			t.Errorf("%+v: through the index %q, sorted %q", q, pages[0], pages[1])
		}
		if q.Text == "common" && q.Limit == 0 && len(pages[0]) != portal.SearchPageSize {
			t.Errorf("%+v: %d APIs", q, len(pages[0]))
		}
	}
}
