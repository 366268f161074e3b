package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/portal"
)

// sampleAPI is the seeded PizzaShack API.
func (e *storeEnv) sampleAPI() *portal.API {
	e.t.Helper()
	a, err := e.db.APIByContext(context.Background(), "/pizzashack", "1.0.0")
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// docBody is the rendered documentation in a documentation page.
func docBody(t *testing.T, body string) string {
	t.Helper()
	_, after, ok := strings.Cut(body, `data-testid="doc-body">`)
	inner, _, ok2 := strings.Cut(after, "</article>")
	if !ok || !ok2 {
		t.Fatalf("no documentation in the page:\n%s", body)
	}
	return inner
}

func TestDocsAccess(t *testing.T) {
	env := newStore(t)
	docs := "/store/publisher/" + itoa(env.sampleAPI().ID) + "/docs"
	if p := env.browser().get(docs); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/store/login") {
		t.Errorf("anonymous: %d %s, want the log-in page", p.status, p.location)
	}
	sub := env.browser()
	sub.signUp("sam", "sam-password")
	for _, p := range []page{sub.get(docs), sub.get(docs + "/new"),
		sub.submit(docs, url.Values{"kind": {"faq"}, "title": {"x"}, "markdown": {"y"}})} {
		if p.status != http.StatusForbidden {
			t.Errorf("subscriber: %d, want 403", p.status)
		}
	}
	// A form without the session's token is refused.
	pub := env.publisher("pat", "publisher")
	if p := pub.post(docs, url.Values{"kind": {"faq"}, "title": {"x"}, "markdown": {"y"}}); p.status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d, want 403", p.status)
	}
	if list, err := env.db.DocsOfAPI(context.Background(), env.sampleAPI().ID); err != nil || len(list) != 0 {
		t.Errorf("pages after refusals: %v, %v", list, err)
	}
}

// TestDocsSanitized: a publisher's Markdown shows in the store without
// scripts, event handlers, javascript: links or raw HTML, and links to
// other sites carry rel="nofollow noreferrer noopener".
func TestDocsSanitized(t *testing.T) {
	env := newStore(t)
	a := env.sampleAPI()
	pub := env.publisher("pat", "publisher")
	base := "/store/publisher/" + itoa(a.ID) + "/docs"
	if p := pub.get(base + "/new"); p.status != http.StatusOK {
		t.Fatalf("new page form: %d", p.status)
	}
	source := "# Getting started\n\nOrder a **pizza**.\n\n" +
		"<script>alert('script')</script>\n\n" +
		"<img src=\"x\" onerror=\"alert('onerror')\">\n\n" +
		"[click me](javascript:alert('link'))\n\n" +
		"<div onclick=\"alert('div')\" style=\"color:red\">raw block</div>\n\n" +
		"Inline <span onmouseover=\"alert('span')\">html</span> and <iframe src=\"https://evil.example\"></iframe>\n\n" +
		"[reference](https://docs.example.com/pizza) and [the menu](/store/apis/1)\n"
	p := pub.submit(base, url.Values{"kind": {"howto"}, "title": {"Getting <started>"}, "markdown": {source}})
	if p.status != http.StatusSeeOther || p.location != base {
		t.Fatalf("add page: %d %s\n%s", p.status, p.location, p.body)
	}
	mustContain(t, pub.get(base).body, "Getting &lt;started&gt;", "How-to", "Documentation page &#34;Getting &lt;started&gt;&#34; added.")
	list, err := env.db.DocsOfAPI(context.Background(), a.ID)
	if err != nil || len(list) != 1 || list[0].Markdown != source {
		t.Fatalf("stored pages: %+v, %v", list, err)
	}
	doc := list[0]

	// The API's page lists it; its own page renders it, sanitized.
	apiPage := env.browser().get("/store/apis/" + itoa(a.ID))
	mustContain(t, apiPage.body, "Documentation", `href="/store/apis/`+itoa(a.ID)+`/docs/`+itoa(doc.ID)+`"`, "Getting &lt;started&gt;")
	p = env.browser().get("/store/apis/" + itoa(a.ID) + "/docs/" + itoa(doc.ID))
	if p.status != http.StatusOK {
		t.Fatalf("documentation page: %d", p.status)
	}
	body := docBody(t, p.body)
	mustContain(t, body, "<h1>Getting started</h1>", "<strong>pizza</strong>", "click me",
		`<a href="https://docs.example.com/pizza" rel="nofollow noreferrer noopener" target="_blank">reference</a>`,
		`<a href="/store/apis/1">the menu</a>`)
	lower := strings.ToLower(body)
	for _, bad := range []string{"<script", "onerror", "javascript:", "onclick", "onmouseover", "<iframe", "<div", "<span", "style=", "<img"} {
		if strings.Contains(lower, bad) {
			t.Errorf("the rendered page holds %q:\n%s", bad, body)
		}
	}
	// No script of the page runs inline (the CSP forbids it anyway).
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	audit, err := env.db.AuditEvents(context.Background(), portal.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range audit {
		found = found || (e.Event == portal.AuditAPIChanged && e.Username == "pat" && strings.Contains(e.Detail, "documentation page") && strings.Contains(e.Detail, "added"))
	}
	if !found {
		t.Errorf("no audit event of the page: %+v", audit)
	}
}

func TestDocsLinksEditDelete(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	a := env.sampleAPI()
	pub := env.publisher("ada", "admin")
	base := "/store/publisher/" + itoa(a.ID) + "/docs"

	for _, tt := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"javascript link", url.Values{"kind": {"link"}, "title": {"Ref"}, "url": {"javascript:alert(1)"}}, "Give the documentation&#39;s address"},
		{"relative link", url.Values{"kind": {"link"}, "title": {"Ref"}, "url": {"/docs"}}, "Give the documentation&#39;s address"},
		{"data link", url.Values{"kind": {"link"}, "title": {"Ref"}, "url": {"data:text/html,<script>x</script>"}}, "Give the documentation&#39;s address"},
		{"no page", url.Values{"kind": {"faq"}, "title": {"FAQ"}, "markdown": {"  "}}, "Write the page, in Markdown."},
		{"no title", url.Values{"kind": {"faq"}, "title": {""}, "markdown": {"x"}}, `id="e-f-title"`},
		{"unknown kind", url.Values{"kind": {"script"}, "title": {"x"}, "markdown": {"x"}}, "Choose one of the kinds offered."},
		{"control characters", url.Values{"kind": {"faq"}, "title": {"x"}, "markdown": {"a\x00b"}}, `id="e-f-markdown"`},
	} {
		p := pub.submit(base, tt.form)
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", tt.name, p.status)
			continue
		}
		mustContain(t, p.body, "The page was not saved", tt.field)
	}
	if list, err := env.db.DocsOfAPI(ctx, a.ID); err != nil || len(list) != 0 {
		t.Fatalf("after refusals: %+v, %v", list, err)
	}

	if p := pub.submit(base, url.Values{"kind": {"link"}, "title": {"Reference"}, "url": {"https://docs.example.com/ref"},
		"markdown": {"ignored"}}); p.status != http.StatusSeeOther {
		t.Fatalf("add link: %d\n%s", p.status, p.body)
	}
	if p := pub.submit(base, url.Values{"kind": {"changelog"}, "title": {"Changes"}, "markdown": {"- 1.0.0: first"}}); p.status != http.StatusSeeOther {
		t.Fatalf("add changelog: %d\n%s", p.status, p.body)
	}
	list, err := env.db.DocsOfAPI(ctx, a.ID)
	if err != nil || len(list) != 2 || list[1].Markdown != "" || list[1].URL != "https://docs.example.com/ref" {
		t.Fatalf("stored: %+v, %v", list, err)
	}
	changes, ref := list[0], list[1]
	mustContain(t, env.browser().get("/store/apis/"+itoa(a.ID)).body,
		`<a href="https://docs.example.com/ref" rel="noopener noreferrer nofollow" target="_blank">Reference</a>`, "Changelog")

	edit := "/" + itoa(changes.ID)
	mustContain(t, pub.get(base+edit+"/edit").body, `value="Changes"`, "- 1.0.0: first")
	if p := pub.submit(base+edit, url.Values{"kind": {"changelog"}, "title": {"Release notes"}, "markdown": {"- 1.0.1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
	if d, err := env.db.DocOfAPI(ctx, a.ID, changes.ID); err != nil || d.Title != "Release notes" || d.Markdown != "- 1.0.1" {
		t.Errorf("after saving: %+v, %v", d, err)
	}

	// Another API's id, or a retired API, shows no page.
	other := &portal.API{Name: "Other", Version: "v1", Context: "/other", Resources: []portal.Resource{{Method: "GET", Path: "/x"}}}
	if err := env.db.CreateAPI(ctx, other); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/store/apis/" + itoa(other.ID) + "/docs/" + itoa(changes.ID), "/store/apis/" + itoa(a.ID) + "/docs/x",
		"/store/apis/" + itoa(a.ID) + "/docs/99999", "/store/publisher/" + itoa(other.ID) + "/docs/" + itoa(changes.ID) + "/edit"} {
		if p := pub.get(path); p.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, p.status)
		}
	}
	if p := pub.submit("/store/publisher/"+itoa(other.ID)+"/docs/"+itoa(ref.ID)+"/delete", nil); p.status != http.StatusNotFound {
		t.Errorf("delete under another API: %d, want 404", p.status)
	}

	if p := pub.submit(base+"/"+itoa(ref.ID)+"/delete", nil); p.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", p.status)
	}
	if p := pub.submit(base+"/"+itoa(ref.ID)+"/delete", nil); p.status != http.StatusNotFound {
		t.Errorf("delete again: %d, want 404", p.status)
	}
	mustNotContain(t, env.browser().get("/store/apis/"+itoa(a.ID)).body, "docs.example.com/ref")

	if p := pub.submit("/store/publisher/"+itoa(a.ID)+"/retire", nil); p.status != http.StatusSeeOther {
		t.Fatal(p.status)
	}
	if p := env.browser().get("/store/apis/" + itoa(a.ID) + "/docs/" + itoa(changes.ID)); p.status != http.StatusNotFound {
		t.Errorf("a retired API's page: %d, want 404", p.status)
	}
	if p := pub.get(base); p.status != http.StatusOK {
		t.Errorf("the publisher still sees a retired API's pages: %d", p.status)
	}
}
