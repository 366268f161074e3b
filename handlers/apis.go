package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// Catalogue lists the published APIs, GET /store.
func (h *Handlers) Catalogue(c echo.Context) error {
	apis, err := h.store.PublishedAPIs(c.Request().Context())
	if err != nil {
		return err
	}
	views := make([]store.APIView, len(apis))
	for i := range apis {
		views[i] = apiView(&apis[i])
	}
	return render(c, http.StatusOK, store.Catalogue(h.page(c, "APIs", layout.NavAPIs), views))
}

func apiView(a *portal.API) store.APIView {
	v := store.APIView{ID: a.ID, Name: a.Name, Version: a.Version, Context: a.Context,
		Description: a.Description, Tiers: a.Tiers}
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
	a, err := h.publishedAPI(c)
	if err != nil {
		return err
	}
	v := store.APIPageView{API: apiView(a), Form: form, LoginURL: h.loginURL(c)}
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

// publishedAPI loads the published API with the URL's :id.
func (h *Handlers) publishedAPI(c echo.Context) (*portal.API, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return nil, echo.ErrNotFound
	}
	a, err := h.store.APIByID(c.Request().Context(), id)
	if isNotFound(err) || (err == nil && a.Status != portal.APIPublished) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "There is no such API. It may have been retired.")
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
	if err := h.flash(c, fmt.Sprintf("%s is subscribed to %s %s at the %s tier.", app.Name, a.Name, a.Version, f.Tier)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/store/apis/%d", a.ID))
}
