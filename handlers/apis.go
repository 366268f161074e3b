package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/components"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// catalogueTags is how many of the most used tags the API list offers as
// filters (besides those chosen).
const catalogueTags = 30

// maxQueryRunes bounds the search text read from the address.
const maxQueryRunes = 200

// Catalogue lists the published APIs, GET /store: a page of those that
// match the search words (q), have every tag chosen (tag, repeated), in
// the order asked (sort: name or newest), page by page (page).
func (h *Handlers) Catalogue(c echo.Context) error {
	ctx := c.Request().Context()
	params := c.QueryParams()
	text := strings.TrimSpace(params.Get("q"))
	if r := []rune(text); len(r) > maxQueryRunes {
		text = string(r[:maxQueryRunes])
	}
	sort := portal.SortName
	if params.Get("sort") == portal.SortNewest {
		sort = portal.SortNewest
	}
	var chosen []string
	for _, t := range params["tag"] {
		// A tag that cannot be one is kept as given, so that it shows and
		// can be removed; it matches no API.
		if n, err := portal.NormalizeTag(t); err == nil {
			t = n
		}
		if !slices.Contains(chosen, t) && len(chosen) < portal.MaxTags {
			chosen = append(chosen, t)
		}
	}
	page, err := strconv.Atoi(params.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	page = min(page, 1_000_000)
	found, err := h.store.SearchAPIs(ctx, portal.SearchQuery{Text: text, Tags: chosen, Sort: sort,
		Offset: (page - 1) * portal.SearchPageSize, Limit: portal.SearchPageSize, Tenant: h.viewerTenant(c)})
	if err != nil {
		return err
	}
	tags, err := h.store.PublishedTags(ctx, h.viewerTenant(c), catalogueTags)
	if err != nil {
		return err
	}
	link := func(tags []string, page int) string { return tenantPath(c, catalogueURL(text, sort, tags, page)) }
	v := store.CatalogueView{Query: text, Sort: sort, Chosen: chosen, Total: found.Total, Page: page,
		Pages:    (found.Total + portal.SearchPageSize - 1) / portal.SearchPageSize,
		Searched: text != "" || len(chosen) > 0, ClearURL: tenantPath(c, "/store"),
		Sorts: []components.Option{{Value: portal.SortName, Label: "Name"}, {Value: portal.SortNewest, Label: "Newest"}}}
	for _, t := range chosen {
		others := slices.DeleteFunc(slices.Clone(chosen), func(o string) bool { return o == t })
		v.Tags = append(v.Tags, store.TagFilter{Tag: t, Chosen: true, URL: link(others, 1)})
	}
	for _, t := range tags {
		if !slices.Contains(chosen, t.Tag) {
			v.Tags = append(v.Tags, store.TagFilter{Tag: t.Tag, Count: t.Count, URL: link(append(slices.Clone(chosen), t.Tag), 1)})
		}
	}
	if page > 1 {
		v.PreviousURL = link(chosen, min(page-1, max(v.Pages, 1)))
	}
	if page < v.Pages {
		v.NextURL = link(chosen, page+1)
	}
	for i := range found.APIs {
		v.APIs = append(v.APIs, apiView(&found.APIs[i]))
	}
	return render(c, http.StatusOK, store.Catalogue(h.page(c, "APIs", layout.NavAPIs), v))
}

// catalogueURL is the address of a page of the API list.
func catalogueURL(text, sort string, tags []string, page int) string {
	q := url.Values{}
	if text != "" {
		q.Set("q", text)
	}
	for _, t := range tags {
		q.Add("tag", t)
	}
	if sort != portal.SortName {
		q.Set("sort", sort)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return "/store"
	}
	return "/store?" + q.Encode()
}

func apiView(a *portal.API) store.APIView {
	v := store.APIView{ID: a.ID, Name: a.Name, Version: a.Version, Context: a.Context,
		Description: a.Description, Tiers: a.Tiers, Tags: a.Tags}
	for _, r := range a.Resources {
		v.Resources = append(v.Resources, store.ResourceView{Method: r.Method, Path: r.Path, Scope: r.Scope})
	}
	return v
}

// subscribeForm is an API page's Subscribe form.
type subscribeForm struct {
	App  string `form:"app" validate:"required"`
	Tier string `form:"tier" validate:"required"`
}

// ShowAPI is an API's page with the Subscribe form, GET /store/apis/:id.
func (h *Handlers) ShowAPI(c echo.Context) error {
	return h.apiPage(c, http.StatusOK, store.SubscribeForm{})
}

// apiPage renders an API's page for the request's :id, with form as the
// Subscribe form's state.
func (h *Handlers) apiPage(c echo.Context, status int, form store.SubscribeForm) error {
	a, docs, err := h.apiDocs(c, h.publishedAPI)
	if err != nil {
		return err
	}
	v := store.APIPageView{API: apiView(a), Form: form, LoginURL: h.loginURL(c), Docs: docs}
	var subs []portal.Subscription
	if u := h.CurrentUser(c); u != nil {
		ctx := c.Request().Context()
		v.LoggedIn = true
		apps, err := h.store.ApplicationsByOwner(ctx, u.ID)
		if err != nil {
			return err
		}
		v.Apps = appOptions(apps)
		if subs, err = h.store.SubscriptionsToAPI(ctx, u.ID, a.ID); err != nil {
			return err
		}
		v.Subscriptions = subscriptionViews(subs)
	}
	if v.Use, err = h.useView(c, a, subs); err != nil {
		return err
	}
	return render(c, status, store.API(h.page(c, a.Name, layout.NavAPIs), v))
}

// publishedAPI loads the published API with the URL's :id, if the viewer's
// tenant sees it: its own, or another active tenant's shared one.
func (h *Handlers) publishedAPI(c echo.Context) (*portal.API, error) {
	errNoSuchAPI := echo.NewHTTPError(http.StatusNotFound, "There is no such API. It may have been retired.")
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return nil, errNoSuchAPI
	}
	ctx, viewer := c.Request().Context(), h.viewerTenant(c)
	a, err := h.store.APIByID(ctx, id)
	if isNotFound(err) || (err == nil && (a.Status != portal.APIPublished || !a.VisibleTo(viewer))) {
		return nil, errNoSuchAPI
	}
	if err != nil || a.OwnedBy(viewer) || a.OwnedBy(portal.SuperTenantID) {
		return a, err
	}
	// Another tenant's shared API: not while that tenant is deactivated.
	t, err := h.store.TenantByDomain(ctx, portal.ContextTenant(a.Context))
	if isNotFound(err) || (err == nil && (!t.Active || !a.OwnedBy(t.ID))) {
		return nil, errNoSuchAPI
	}
	return a, err
}

func subscriptionViews(subs []portal.Subscription) []store.SubscriptionView {
	out := make([]store.SubscriptionView, len(subs))
	for i, s := range subs {
		out[i] = store.SubscriptionView{AppID: s.AppID, AppName: s.AppName, APIID: s.APIID, APIName: s.APIName,
			APIVersion: s.APIVersion, APIContext: s.APIContext, Tier: s.Tier,
			Retired: s.APIStatus == portal.APIRetired, TierWithdrawn: !slices.Contains(s.APITiers, s.Tier)}
	}
	return out
}

// Subscribe subscribes one of the user's applications to the API at a tier
// it offers, POST /store/apis/:id/subscribe.
func (h *Handlers) Subscribe(c echo.Context) error {
	a, err := h.publishedAPI(c)
	if err != nil {
		return err
	}
	var f subscribeForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	form := store.SubscribeForm{App: f.App, Tier: f.Tier, Errors: errs}
	if errs == nil {
		form.Errors = map[string]string{}
	}
	if f.Tier != "" && !slices.Contains(a.Tiers, f.Tier) {
		form.Errors["tier"] = "Choose one of this API's tiers: " + strings.Join(a.Tiers, ", ") + "."
	}
	app, err := h.ownedApplication(c, f.App)
	if errors.Is(err, errNoApplication) {
		form.Errors["app"] = "Choose one of your applications."
	} else if err != nil {
		return err
	}
	if len(form.Errors) > 0 {
		return h.apiPage(c, http.StatusUnprocessableEntity, form)
	}
	err = h.store.Subscribe(c.Request().Context(), app.ID, a.ID, f.Tier)
	if errors.Is(err, portal.ErrConflict) {
		form.Errors["app"] = app.Name + " is already subscribed to this API."
		return h.apiPage(c, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	client, detail := h.appAuditFields(c, app.ID, app.Name)
	h.audit(c, portal.AuditSubscribed, h.CurrentUser(c).Username, client, fmt.Sprintf("%s to API %s %s, tier %s", detail, a.Name, a.Version, f.Tier))
	return h.flashTo(c, fmt.Sprintf("/store/apis/%d", a.ID), fmt.Sprintf("%s is subscribed to %s %s at the %s tier.", app.Name, a.Name, a.Version, f.Tier))
}
