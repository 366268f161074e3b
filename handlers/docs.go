package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/apistore/apistore/internal/markdown"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/components"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// docForm is the form that adds or edits a documentation page: a page
// (how-to, FAQ, changelog) has Markdown, a link a URL.
type docForm struct {
	Kind     string `form:"kind" validate:"required"`
	Title    string `form:"title" validate:"required,max=200,oneline"`
	Markdown string `form:"markdown" validate:"max=30000,text"`
	URL      string `form:"url" validate:"max=2000,oneline"`
}

func (f *docForm) trim() {
	f.Title, f.URL = strings.TrimSpace(f.Title), strings.TrimSpace(f.URL)
}

// check adds the messages of what the fields' tags cannot say, and clears
// the field the kind does not use.
func (f *docForm) check(errs map[string]string) {
	switch {
	case !slices.Contains(portal.DocKinds, f.Kind):
		errs["kind"] = "Choose one of the kinds offered."
	case f.Kind == portal.DocLink:
		f.Markdown = ""
		if u, err := url.Parse(f.URL); errs["url"] == "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
			errs["url"] = "Give the documentation's address, starting with https://."
		}
	default:
		f.URL = ""
		if strings.TrimSpace(f.Markdown) == "" && errs["markdown"] == "" {
			errs["markdown"] = "Write the page, in Markdown."
		}
	}
}

func docViews(docs []portal.Doc) []store.DocView {
	out := make([]store.DocView, len(docs))
	for i := range docs {
		out[i] = docView(&docs[i])
	}
	return out
}

func docView(d *portal.Doc) store.DocView {
	return store.DocView{ID: d.ID, Kind: d.Kind, KindName: portal.DocKindName(d.Kind), Title: d.Title, URL: d.URL,
		Updated: formatDay(d.UpdatedAt)}
}

// ShowDoc is a documentation page of a published API, its Markdown
// rendered and sanitized, GET /store/apis/:id/docs/:doc.
func (h *Handlers) ShowDoc(c echo.Context) error {
	a, d, err := h.apiDoc(c, h.publishedAPI)
	if err != nil {
		return err
	}
	html := ""
	if d.Kind == portal.DocLink {
		html = `<p>This documentation is on another site.</p>`
	} else if html, err = markdown.Render(d.Markdown, tenantPath(c, "/store")); err != nil {
		return err
	}
	v := store.DocPageView{APIID: a.ID, APIName: a.Name, APIVersion: a.Version, Doc: docView(d), HTML: html}
	return render(c, http.StatusOK, store.DocPage(h.page(c, d.Title, layout.NavAPIs), v))
}

// errNoDoc answers a documentation page id that does not exist.
var errNoDoc = echo.NewHTTPError(http.StatusNotFound, "There is no such documentation page. It may have been deleted.")

// apiDoc loads the API of the URL's :id with load, and its documentation
// page of the URL's :doc.
func (h *Handlers) apiDoc(c echo.Context, load func(echo.Context) (*portal.API, error)) (*portal.API, *portal.Doc, error) {
	a, err := load(c)
	if err != nil {
		return nil, nil, err
	}
	id, err := strconv.ParseInt(c.Param("doc"), 10, 64)
	if err != nil {
		return nil, nil, errNoDoc
	}
	d, err := h.store.DocOfAPI(c.Request().Context(), a.ID, id)
	if isNotFound(err) {
		return nil, nil, errNoDoc
	}
	return a, d, err
}

// apiDocs loads the API of the URL's :id with load, and its documentation
// pages.
func (h *Handlers) apiDocs(c echo.Context, load func(echo.Context) (*portal.API, error)) (*portal.API, []store.DocView, error) {
	a, err := load(c)
	if err != nil {
		return nil, nil, err
	}
	docs, err := h.store.DocsOfAPI(c.Request().Context(), a.ID)
	if err != nil {
		return nil, nil, err
	}
	return a, docViews(docs), nil
}

// PublisherDocs lists an API's documentation pages for its publishers,
// GET /store/publisher/:id/docs.
func (h *Handlers) PublisherDocs(c echo.Context) error {
	a, docs, err := h.apiDocs(c, h.anyAPI)
	if err != nil {
		return err
	}
	v := store.PublisherDocsView{APIID: a.ID, APIName: a.Name, APIVersion: a.Version,
		Published: a.Status == portal.APIPublished, Docs: docs}
	return render(c, http.StatusOK, store.PublisherDocs(h.page(c, "Documentation of "+a.Name, layout.NavPublisher), v))
}

// NewDoc is the empty form of a documentation page, GET
// /store/publisher/:id/docs/new.
func (h *Handlers) NewDoc(c echo.Context) error {
	a, err := h.anyAPI(c)
	if err != nil {
		return err
	}
	return h.docForm(c, http.StatusOK, a, store.DocForm{Kind: portal.DocHowTo})
}

// EditDoc is the edit form of a documentation page, GET
// /store/publisher/:id/docs/:doc/edit.
func (h *Handlers) EditDoc(c echo.Context) error {
	a, d, err := h.apiDoc(c, h.anyAPI)
	if err != nil {
		return err
	}
	return h.docForm(c, http.StatusOK, a, store.DocForm{ID: d.ID, Kind: d.Kind, Title: d.Title, Markdown: d.Markdown, URL: d.URL})
}

func (h *Handlers) docForm(c echo.Context, status int, a *portal.API, f store.DocForm) error {
	f.APIID, f.APIName = a.ID, a.Name+" "+a.Version
	for _, k := range portal.DocKinds {
		f.Kinds = append(f.Kinds, components.Option{Value: k, Label: portal.DocKindName(k)})
	}
	title := "Add a page"
	if f.ID != 0 {
		title = "Edit " + f.Title
	}
	return render(c, status, store.EditDoc(h.page(c, title, layout.NavPublisher), f))
}

// CreateDoc adds a documentation page, POST /store/publisher/:id/docs.
func (h *Handlers) CreateDoc(c echo.Context) error {
	return h.saveDoc(c, false)
}

// UpdateDoc saves a documentation page, POST /store/publisher/:id/docs/:doc.
func (h *Handlers) UpdateDoc(c echo.Context) error {
	return h.saveDoc(c, true)
}

// saveDoc validates the posted form and adds a page, or saves the URL's
// :doc when edit is set.
func (h *Handlers) saveDoc(c echo.Context, edit bool) error {
	var a *portal.API
	d := &portal.Doc{}
	var err error
	if edit {
		a, d, err = h.apiDoc(c, h.anyAPI)
	} else {
		a, err = h.anyAPI(c)
	}
	if err != nil {
		return err
	}
	d.APIID = a.ID
	var f docForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	if errs == nil {
		errs = map[string]string{}
	}
	f.check(errs)
	if len(errs) > 0 {
		return h.docForm(c, http.StatusUnprocessableEntity, a,
			store.DocForm{ID: d.ID, Kind: f.Kind, Title: f.Title, Markdown: f.Markdown, URL: f.URL, Errors: errs})
	}
	d.Kind, d.Title, d.Markdown, d.URL = f.Kind, f.Title, f.Markdown, f.URL
	done := "added"
	if edit {
		done = "saved"
		err = h.store.UpdateDoc(c.Request().Context(), d)
	} else {
		err = h.store.CreateDoc(c.Request().Context(), d)
	}
	if isNotFound(err) {
		return errNoDoc
	}
	if err != nil {
		return err
	}
	return h.docDone(c, a, d, done)
}

// DeleteDoc deletes a documentation page, POST
// /store/publisher/:id/docs/:doc/delete.
func (h *Handlers) DeleteDoc(c echo.Context) error {
	a, d, err := h.apiDoc(c, h.anyAPI)
	if err != nil {
		return err
	}
	err = h.store.DeleteDoc(c.Request().Context(), a.ID, d.ID)
	if isNotFound(err) {
		return errNoDoc
	}
	if err != nil {
		return err
	}
	return h.docDone(c, a, d, "deleted")
}

// docDone records a change of documentation in the audit trail, says it
// is done, and goes back to the API's documentation.
func (h *Handlers) docDone(c echo.Context, a *portal.API, d *portal.Doc, done string) error {
	h.audit(c, portal.AuditAPIChanged, h.CurrentUser(c).Username, "",
		fmt.Sprintf("API %s %s (%s): documentation page %q (%s) %s", a.Name, a.Version, a.Context, d.Title, portal.DocKindName(d.Kind), done))
	return h.flashTo(c, fmt.Sprintf("/store/publisher/%d/docs", a.ID), fmt.Sprintf("Documentation page %q %s.", d.Title, done))
}
