package dbtest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// catalogue is the search tests' APIs, created in this order; the last is
// retired.
var catalogue = []portal.API{
	{Name: "PizzaShackAPI", Context: "/pizzashack", Version: "1.0.0", Description: "Order pizza: read the menu.",
		Tags: []string{"food", "sample"}, Resources: []portal.Resource{{Method: "GET", Path: "/menu"}, {Method: "POST", Path: "/order"}}},
	{Name: "Café Finder", Context: "/cafe", Version: "v1", Description: "Find a café near you.",
		Tags: []string{"Food", "maps"}, Resources: []portal.Resource{{Method: "GET", Path: "/places"}}},
	{Name: "東京天気", Context: "/tokyo-weather", Version: "v1", Description: "東京の天気予報 API",
		Tags: []string{"weather", "日本"}, Resources: []portal.Resource{{Method: "GET", Path: "/forecast"}}},
	{Name: "Payments", Context: "/payments", Version: "v1", Description: "Charge cards.",
		Tags: []string{"finance"}, Resources: []portal.Resource{{Method: "POST", Path: "/charges"}}},
	{Name: "Payments", Context: "/payments", Version: "v2", Description: "Charge cards and give money back.",
		Tags: []string{"finance"}, Resources: []portal.Resource{{Method: "GET", Path: "/charges/{chargeId}"}, {Method: "POST", Path: "/refunds"}}},
	{Name: "Straße API", Context: "/strasse", Version: "v1", Description: "Streets of Germany.",
		Tags: []string{"maps"}, Resources: []portal.Resource{{Method: "GET", Path: "/streets"}}},
	{Name: "zebra crossing", Context: "/zebra", Version: "v1", Description: "Where to cross.",
		Resources: []portal.Resource{{Method: "GET", Path: "/crossings"}}},
	{Name: "Pizza Retired", Context: "/old-pizza", Version: "v1", Description: "Order pizza, the old way.",
		Tags: []string{"food"}, Resources: []portal.Resource{{Method: "GET", Path: "/menu"}}},
}

// byName is every published API of catalogue, sorted by name.
var byName = []string{"Café Finder v1", "Payments v1", "Payments v2", "PizzaShackAPI 1.0.0", "Straße API v1",
	"zebra crossing v1", "東京天気 v1"}

func seedCatalogue(t *testing.T, d db.Store) {
	t.Helper()
	for _, a := range catalogue {
		if err := d.CreateAPI(t.Context(), &a); err != nil {
			t.Fatalf("create API %s: %v", a.Name, err)
		}
		if a.Name == "Pizza Retired" {
			if err := d.SetAPIStatus(t.Context(), a.ID, portal.APIRetired); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// pageNames are the names and versions of a page's APIs.
func pageNames(apis []portal.API) []string {
	return names(apis, func(a portal.API) string { return a.Name + " " + a.Version })
}

func testSearch(t *testing.T, s *suite) {
	d := s.store(t)
	seedCatalogue(t, d)
	pizza, cafe, tokyo := "PizzaShackAPI 1.0.0", "Café Finder v1", "東京天気 v1"
	newest := slices.Clone(byName)
	slices.SortFunc(newest, func(a, b string) int {
		return slices.IndexFunc(catalogue, func(c portal.API) bool { return c.Name+" "+c.Version == b }) -
			slices.IndexFunc(catalogue, func(c portal.API) bool { return c.Name+" "+c.Version == a })
	})
	type searchCase struct {
		name  string
		q     portal.SearchQuery
		want  []string
		total int // 0: len(want)
	}
	tests := []searchCase{
		{"everything, by name (case folded)", portal.SearchQuery{}, byName, 0},
		{"everything, newest first", portal.SearchQuery{Sort: portal.SortNewest}, newest, 0},
		{"a word of the name", portal.SearchQuery{Text: "pizza"}, []string{pizza}, 0},
		{"in capitals", portal.SearchQuery{Text: "PIZZA"}, []string{pizza}, 0},
		{"a part of a camel-case name", portal.SearchQuery{Text: "shack"}, []string{pizza}, 0},
		{"a prefix", portal.SearchQuery{Text: "piz"}, []string{pizza}, 0},
		{"a word of the description", portal.SearchQuery{Text: "germany"}, []string{"Straße API v1"}, 0},
		{"a resource path", portal.SearchQuery{Text: "refunds"}, []string{"Payments v2"}, 0},
		{"a path parameter", portal.SearchQuery{Text: "chargeid"}, []string{"Payments v2"}, 0},
		{"a path with its slash", portal.SearchQuery{Text: "/crossings"}, []string{"zebra crossing v1"}, 0},
		{"the context", portal.SearchQuery{Text: "tokyo"}, []string{tokyo}, 0},
		{"two words, both needed", portal.SearchQuery{Text: "pizza menu"}, []string{pizza}, 0},
		{"two words of different APIs", portal.SearchQuery{Text: "pizza payments"}, nil, 0},
		{"one word, two versions", portal.SearchQuery{Text: "charge"}, []string{"Payments v1", "Payments v2"}, 0},
		{"no diacritics typed", portal.SearchQuery{Text: "cafe"}, []string{cafe}, 0},
		{"diacritics typed", portal.SearchQuery{Text: "café"}, []string{cafe}, 0},
		{"capital with diacritics", portal.SearchQuery{Text: "CAFÉ"}, []string{cafe}, 0},
		{"decomposed diacritics", portal.SearchQuery{Text: "cafe\u0301"}, []string{cafe}, 0},
		{"sharp s folded", portal.SearchQuery{Text: "STRASSE"}, []string{"Straße API v1"}, 0},
		{"sharp s typed", portal.SearchQuery{Text: "straße"}, []string{"Straße API v1"}, 0},
		{"full-width letters", portal.SearchQuery{Text: "ＰＩＺＺＡ"}, []string{pizza}, 0},
		{"CJK word of the name", portal.SearchQuery{Text: "天気"}, []string{tokyo}, 0},
		{"CJK word of the description", portal.SearchQuery{Text: "天気予報"}, []string{tokyo}, 0},
		{"CJK single character", portal.SearchQuery{Text: "東"}, []string{tokyo}, 0},
		{"CJK characters not side by side", portal.SearchQuery{Text: "天東"}, nil, 0},
		{"a tag as a word", portal.SearchQuery{Text: "finance"}, []string{"Payments v1", "Payments v2"}, 0},
		{"no match", portal.SearchQuery{Text: "nothing-like-it"}, nil, 0},
		{"a retired API's words", portal.SearchQuery{Text: "retired"}, nil, 0},

		{"one tag, retired APIs left out", portal.SearchQuery{Tags: []string{"food"}}, []string{cafe, pizza}, 0},
		{"two tags, both needed", portal.SearchQuery{Tags: []string{"food", "maps"}}, []string{cafe}, 0},
		{"a tag in capitals", portal.SearchQuery{Tags: []string{"FOOD"}}, []string{cafe, pizza}, 0},
		{"a tag twice", portal.SearchQuery{Tags: []string{"maps", "Maps"}}, []string{cafe, "Straße API v1"}, 0},
		{"a CJK tag", portal.SearchQuery{Tags: []string{"日本"}}, []string{tokyo}, 0},
		{"an unknown tag", portal.SearchQuery{Tags: []string{"nosuch"}}, nil, 0},
		{"words and a tag", portal.SearchQuery{Text: "find", Tags: []string{"maps"}}, []string{cafe}, 0},

		{"the first page", portal.SearchQuery{Limit: 2}, byName[:2], len(byName)},
		{"the second page", portal.SearchQuery{Offset: 2, Limit: 2}, byName[2:4], len(byName)},
		{"the last page", portal.SearchQuery{Offset: 6, Limit: 2}, byName[6:], len(byName)},
		{"past the last page", portal.SearchQuery{Offset: 100, Limit: 2}, nil, len(byName)},
		{"a negative offset", portal.SearchQuery{Offset: -5, Limit: 2}, byName[:2], len(byName)},
		{"a page of the newest", portal.SearchQuery{Sort: portal.SortNewest, Offset: 1, Limit: 2}, newest[1:3], len(newest)},
		{"a page of a search", portal.SearchQuery{Tags: []string{"food"}, Offset: 1, Limit: 1}, []string{pizza}, 2},
		{"an unknown sort is by name", portal.SearchQuery{Sort: "'; DROP TABLE apis; --"}, byName, 0},
	}
	// Whatever a user types is words: no operator, quote or byte reaches
	// the store as query syntax, and nothing fails.
	hostile := []struct {
		text string
		want []string
	}{
		{`"`, byName}, {`pizza"`, []string{pizza}}, {`"pizza`, []string{pizza}}, {`'`, byName},
		{`pizza OR payments`, nil}, {`NOT pizza`, nil}, {`-pizza`, []string{pizza}}, {`pizza*`, []string{pizza}},
		{`*`, byName}, {`NEAR(pizza menu)`, nil}, {`pizza:*`, []string{pizza}}, {`pizza & !menu`, []string{pizza}},
		{`pizza | zebra`, nil}, {`(((`, byName}, {`\`, byName}, {`' OR 1=1 --`, nil}, {`words:pizza`, nil},
		{`{words}: pizza`, nil}, {`^pizza`, []string{pizza}}, {"pizza\x00", []string{pizza}}, {"\x00", byName},
		{"\xff\xfe", byName}, {"piz\xffza", nil}, {"pizza\u200b", []string{pizza}}, {"%", byName}, {"_", byName},
	}
	for _, h := range hostile {
		tests = append(tests, searchCase{fmt.Sprintf("hostile text %q", h.text), portal.SearchQuery{Text: h.text}, h.want, 0})
	}
	for _, tag := range []string{"\x00", "food\x00", "\xff", `"food"`, "' OR 1=1 --", "food' --", "*", "%", ""} {
		tests = append(tests, searchCase{fmt.Sprintf("hostile tag %q", tag), portal.SearchQuery{Tags: []string{tag}}, nil, 0})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := d.SearchAPIs(t.Context(), tt.q)
			if err != nil {
				t.Fatalf("SearchAPIs(%+v): %v", tt.q, err)
			}
			total := tt.total
			if total == 0 {
				total = len(tt.want)
			}
			if got := pageNames(page.APIs); !slices.Equal(got, tt.want) || page.Total != total {
				t.Errorf("SearchAPIs(%+v) = %q, total %d; want %q, total %d", tt.q, got, page.Total, tt.want, total)
			}
		})
	}

	t.Run("results come with their resources and tags", func(t *testing.T) {
		page, err := d.SearchAPIs(t.Context(), portal.SearchQuery{Text: "cafe"})
		if err != nil || len(page.APIs) != 1 {
			t.Fatalf("%+v, %v", page, err)
		}
		a := page.APIs[0]
		if !slices.Equal(a.Tags, []string{"food", "maps"}) || len(a.Resources) != 1 || a.Resources[0].Path != "/places" ||
			a.Context != "/cafe" || a.Description != "Find a café near you." || a.Status != portal.APIPublished {
			t.Errorf("%+v", a)
		}
	})

	t.Run("tags of published APIs, the most used first", func(t *testing.T) {
		got, err := d.PublishedTags(t.Context(), 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []portal.TagCount{{Tag: "finance", Count: 2}, {Tag: "food", Count: 2}, {Tag: "maps", Count: 2}, {Tag: "sample", Count: 1}, {Tag: "weather", Count: 1}, {Tag: "日本", Count: 1}}
		if !slices.Equal(got, want) {
			t.Errorf("PublishedTags = %v, want %v", got, want)
		}
		if got, err := d.PublishedTags(t.Context(), 0, 2); err != nil || len(got) != 2 {
			t.Errorf("PublishedTags(2) = %v, %v", got, err)
		}
	})

	t.Run("an edit changes what finds the API", func(t *testing.T) {
		d := s.store(t)
		seedCatalogue(t, d)
		a, err := d.APIByContext(t.Context(), "/zebra", "v1")
		if err != nil {
			t.Fatal(err)
		}
		a.Name, a.Context, a.Tags = "Giraffe Spotting", "/giraffe", []string{"Animals", "animals", " Wild  Life "}
		a.Resources = []portal.Resource{{Method: "GET", Path: "/necks"}}
		if err := d.UpdateAPI(t.Context(), a, []oauth.Scope{}); err != nil {
			t.Fatal(err)
		}
		got, err := d.APIByID(t.Context(), a.ID)
		if err != nil || !slices.Equal(got.Tags, []string{"animals", "wild life"}) {
			t.Fatalf("tags after the edit: %+v, %v", got, err)
		}
		for _, tt := range []struct {
			q    portal.SearchQuery
			want []string
		}{
			{portal.SearchQuery{Text: "zebra"}, nil},
			{portal.SearchQuery{Text: "crossings"}, nil},
			{portal.SearchQuery{Text: "giraffe necks"}, []string{"Giraffe Spotting v1"}},
			{portal.SearchQuery{Tags: []string{"wild life"}}, []string{"Giraffe Spotting v1"}},
			{portal.SearchQuery{}, []string{"Café Finder v1", "Giraffe Spotting v1", "Payments v1", "Payments v2",
				"PizzaShackAPI 1.0.0", "Straße API v1", "東京天気 v1"}},
		} {
			if page, err := d.SearchAPIs(t.Context(), tt.q); err != nil || !slices.Equal(pageNames(page.APIs), tt.want) {
				t.Errorf("after the edit, SearchAPIs(%+v) = %q, %v; want %q", tt.q, pageNames(page.APIs), err, tt.want)
			}
		}
		// Retired, then published again.
		for status, want := range map[string][]string{portal.APIRetired: nil, portal.APIPublished: {"Giraffe Spotting v1"}} {
			if err := d.SetAPIStatus(t.Context(), a.ID, status); err != nil {
				t.Fatal(err)
			}
			if page, err := d.SearchAPIs(t.Context(), portal.SearchQuery{Text: "giraffe"}); err != nil || !slices.Equal(pageNames(page.APIs), want) {
				t.Errorf("%s: %q, %v; want %q", status, pageNames(page.APIs), err, want)
			}
		}
	})

	t.Run("a tag that cannot be one is refused, and nothing is saved", func(t *testing.T) {
		d := s.store(t)
		for _, tags := range [][]string{{"ok", "bad'tag"}, {"-dash"}, {"a\x00b"}, {"\xff"},
			{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}, {"x234567890123456789012345678901234567890a"}} {
			a := newAPI("Tagged", "/tagged", "v1")
			a.Tags = tags
			if err := d.CreateAPI(t.Context(), a); err == nil || errors.Is(err, portal.ErrConflict) {
				t.Errorf("CreateAPI with tags %q: %v; want a refusal", tags, err)
			}
		}
		if page, err := d.SearchAPIs(t.Context(), portal.SearchQuery{}); err != nil || page.Total != 0 {
			t.Errorf("after refusals: %+v, %v", page, err)
		}
	})
}
