package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/portal"
)

// cardNames are the names of the API cards of a page of the store's list.
func cardNames(body string) []string {
	var out []string
	for _, part := range strings.Split(body, `<article class="card api"><h2><a href="/store/apis/`)[1:] {
		_, after, _ := strings.Cut(part, `">`)
		name, _, _ := strings.Cut(after, "</a>")
		out = append(out, name)
	}
	return out
}

// TestCatalogueSearch: the store's list finds APIs by words, tags or both,
// sorts them, and pages through them; only published APIs show, and no
// query, however odd, fails.
func TestCatalogueSearch(t *testing.T) {
	env := newStore(t) // PizzaShackAPI, tagged food and sample
	ctx := context.Background()
	for i := range 24 {
		a := &portal.API{Name: fmt.Sprintf("Bulk %02d", i), Version: "v1", Context: fmt.Sprintf("/bulk%02d", i),
			Description: "One of many.", Tags: []string{"bulk"}, Resources: []portal.Resource{{Method: "GET", Path: "/items"}}}
		if err := env.db.CreateAPI(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	cafe := &portal.API{Name: "Café Finder", Version: "v1", Context: "/cafe", Description: "Find coffee near you.",
		Tags: []string{"maps", "food"}, Resources: []portal.Resource{{Method: "GET", Path: "/places/{placeId}"}}}
	retired := &portal.API{Name: "Old Café", Version: "v1", Context: "/old-cafe", Tags: []string{"maps"},
		Resources: []portal.Resource{{Method: "GET", Path: "/x"}}}
	for _, a := range []*portal.API{cafe, retired} {
		if err := env.db.CreateAPI(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.db.SetAPIStatus(ctx, retired.ID, portal.APIRetired); err != nil {
		t.Fatal(err)
	}
	b := env.browser()

	first := b.get("/store")
	if first.status != http.StatusOK {
		t.Fatalf("/store: %d", first.status)
	}
	names := cardNames(first.body)
	if len(names) != portal.SearchPageSize || names[0] != "Bulk 00" || slices.Contains(names, "Old Café") {
		t.Errorf("first page: %q", names)
	}
	mustContain(t, first.body, `name="q"`, "Page 1 of 2", `href="/store?page=2"`, `href="/store?tag=bulk"`, `href="/store?tag=maps"`)
	second := b.get("/store?page=2")
	if names := cardNames(second.body); !slices.Equal(names, []string{"Bulk 20", "Bulk 21", "Bulk 22", "Bulk 23", "Café Finder", "PizzaShackAPI"}) {
		t.Errorf("second page: %q", names)
	}
	mustContain(t, second.body, "Page 2 of 2", `href="/store"`)

	tests := []struct {
		query string
		want  []string
		shown []string
	}{
		{"q=caf%C3%A9", []string{"Café Finder"}, []string{"1 API matches.", `value="café"`}},
		{"q=CAFE", []string{"Café Finder"}, nil},
		{"q=coffee+near", []string{"Café Finder"}, nil},
		{"q=placeid", []string{"Café Finder"}, nil},
		{"q=pizzash", []string{"PizzaShackAPI"}, nil},
		{"q=%2Fpizzashack", []string{"PizzaShackAPI"}, nil},
		{"q=nothing+like+it", nil, []string{"No API matches.", `href="/store"`}},
		{"tag=maps", []string{"Café Finder"}, []string{`class="tag chosen" href="/store"`, `<input type="hidden" name="tag" value="maps">`}},
		{"tag=food", []string{"Café Finder", "PizzaShackAPI"}, []string{"2 APIs match.", `href="/store?tag=food&amp;tag=maps"`}},
		{"tag=FOOD&tag=maps", []string{"Café Finder"}, []string{`href="/store?tag=maps"`, `href="/store?tag=food"`}},
		{"q=find&tag=food", []string{"Café Finder"}, []string{`href="/store?q=find"`}},
		{"sort=newest", nil, []string{`<option value="newest" selected>`}},
		{"q=bulk&page=2", []string{"Bulk 20", "Bulk 21", "Bulk 22", "Bulk 23"}, []string{"24 APIs match.", `href="/store?q=bulk"`}},
		// Odd input is words, and never an error.
		{"q=" + url.QueryEscape(`" OR 1=1 --`), nil, nil},
		{"q=" + url.QueryEscape(`pizza*) ("menu`), []string{"PizzaShackAPI"}, nil},
		{"q=%00%FF", nil, nil},
		{"tag=%00", nil, []string{"No API matches."}},
		{"tag=" + url.QueryEscape(`"><script>x</script>`), nil, []string{"&lt;script&gt;"}},
		{"page=-3&sort=bogus", nil, []string{"Page 1 of 2"}},
		{"page=abc", nil, nil},
		{"page=99999999999999999999", nil, nil},
		{"page=999", nil, []string{`href="/store?page=2"`}},
		{"q=" + url.QueryEscape(strings.Repeat("pizza ", 300)), nil, nil},
	}
	for _, tt := range tests {
		p := b.get("/store?" + tt.query)
		if p.status != http.StatusOK {
			t.Errorf("%s: %d", tt.query, p.status)
			continue
		}
		if tt.want != nil || strings.HasPrefix(tt.query, "q=nothing") || strings.HasPrefix(tt.query, "tag=%00") {
			if got := cardNames(p.body); !slices.Equal(got, tt.want) {
				t.Errorf("%s: %q, want %q", tt.query, got, tt.want)
			}
		}
		mustContain(t, p.body, tt.shown...)
		mustNotContain(t, p.body, "Old Café", "<script>x")
	}
	newest := cardNames(b.get("/store?sort=newest").body)
	if len(newest) < 2 || newest[0] != "Café Finder" || newest[1] != "Bulk 23" {
		t.Errorf("newest first: %q", newest)
	}
}

// TestPublisherTags: tags are edited on the Publisher's form, normalized,
// and refused with a message when they cannot be tags.
func TestPublisherTags(t *testing.T) {
	env := newStore(t)
	b := env.publisher("root", "admin")
	form := publisherForm()
	form.Set("tags", "bad'tag, ok")
	p := b.submit("/store/publisher", form)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad tag: %d", p.status)
	}
	mustContain(t, p.body, `id="e-f-tags"`, "may hold letters, digits", `value="bad&#39;tag, ok"`)
	form.Set("tags", " Weather, forecast ,weather,, Météo ")
	if p := b.submit("/store/publisher", form); p.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	a, err := env.db.APIByContext(context.Background(), "/weather", "v1")
	if err != nil || !slices.Equal(a.Tags, []string{"weather", "forecast", "météo"}) {
		t.Fatalf("stored tags: %+v, %v", a, err)
	}
	mustContain(t, b.get("/store/publisher/"+itoa(a.ID)+"/edit").body, `value="weather, forecast, météo"`)
	mustContain(t, env.browser().get("/store/apis/"+itoa(a.ID)).body, `href="/store?tag=m%C3%A9t%C3%A9o"`)
	if names := cardNames(env.browser().get("/store?q=meteo").body); !slices.Equal(names, []string{"Weather"}) {
		t.Errorf("search by a tag's word: %q", names)
	}
}
