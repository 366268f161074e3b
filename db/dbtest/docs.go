package dbtest

import (
	"errors"
	"slices"
	"testing"

	"github.com/apistore/apistore/portal"
)

func testDocs(t *testing.T, s *suite) {
	t.Run("pages are kept per API, listed by kind then title, changed and deleted", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		pizza := createAPI(t, d, "Pizza", "/pizza", "v1")
		other := createAPI(t, d, "Other", "/other", "v1")
		docs := []*portal.Doc{
			{APIID: pizza.ID, Kind: portal.DocLink, Title: "Reference", URL: "https://docs.example.com/pizza"},
			{APIID: pizza.ID, Kind: portal.DocChangelog, Title: "Changes", Markdown: "## 1.0\n\n- first"},
			{APIID: pizza.ID, Kind: portal.DocHowTo, Title: "Ordering", Markdown: "# Order\n\nPOST /order"},
			{APIID: pizza.ID, Kind: portal.DocHowTo, Title: "Getting started", Markdown: "Café ☕ 東京 <script>kept as written</script>"},
			{APIID: pizza.ID, Kind: portal.DocFAQ, Title: "FAQ", Markdown: "**Q**: why?"},
			{APIID: other.ID, Kind: portal.DocFAQ, Title: "Other's FAQ", Markdown: "no"},
		}
		for _, doc := range docs {
			if err := d.CreateDoc(ctx, doc); err != nil {
				t.Fatal(err)
			}
			if doc.ID == 0 || doc.UpdatedAt.IsZero() {
				t.Errorf("after CreateDoc: %+v", doc)
			}
		}
		list, err := d.DocsOfAPI(ctx, pizza.ID)
		if err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, doc := range list {
			titles = append(titles, doc.Title)
		}
		if want := []string{"Getting started", "Ordering", "FAQ", "Changes", "Reference"}; !slices.Equal(titles, want) {
			t.Errorf("DocsOfAPI = %q, want %q", titles, want)
		}
		got, err := d.DocOfAPI(ctx, pizza.ID, docs[3].ID)
		if err != nil || *got != *docs[3] {
			t.Errorf("DocOfAPI = %+v, %v; want %+v", got, err, docs[3])
		}
		if _, err := d.DocOfAPI(ctx, other.ID, docs[3].ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("DocOfAPI under another API: %v, want ErrNotFound", err)
		}

		edit := *docs[2]
		edit.Title, edit.Markdown, edit.Kind = "Ordering pizza", "Edited", portal.DocFAQ
		if err := d.UpdateDoc(ctx, &edit); err != nil {
			t.Fatal(err)
		}
		if got, err := d.DocOfAPI(ctx, pizza.ID, edit.ID); err != nil || got.Title != "Ordering pizza" || got.Markdown != "Edited" || got.Kind != portal.DocFAQ {
			t.Errorf("after UpdateDoc: %+v, %v", got, err)
		}
		wrong := edit
		wrong.APIID = other.ID
		if err := d.UpdateDoc(ctx, &wrong); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("UpdateDoc under another API: %v, want ErrNotFound", err)
		}
		if err := d.DeleteDoc(ctx, other.ID, edit.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("DeleteDoc under another API: %v, want ErrNotFound", err)
		}
		if err := d.DeleteDoc(ctx, pizza.ID, edit.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.DeleteDoc(ctx, pizza.ID, edit.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("DeleteDoc again: %v, want ErrNotFound", err)
		}
		if list, err := d.DocsOfAPI(ctx, pizza.ID); err != nil || len(list) != 4 {
			t.Errorf("after DeleteDoc: %d pages, %v", len(list), err)
		}
		if list, err := d.DocsOfAPI(ctx, other.ID); err != nil || len(list) != 1 {
			t.Errorf("the other API's pages: %d, %v", len(list), err)
		}
	})

	t.Run("a page of an API that does not exist is ErrNotFound", func(t *testing.T) {
		d := s.store(t)
		err := d.CreateDoc(t.Context(), &portal.Doc{APIID: 999, Kind: portal.DocFAQ, Title: "x", Markdown: "y"})
		if !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("CreateDoc: %v, want ErrNotFound", err)
		}
		if list, err := d.DocsOfAPI(t.Context(), 999); err != nil || len(list) != 0 {
			t.Errorf("DocsOfAPI: %v, %v", list, err)
		}
	})
}
