package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// publisherRoles may use the Publisher.
var publisherRoles = []string{"admin", "publisher"}

// mayPublish reports whether a user has a role that publishes APIs.
func mayPublish(u *portal.User) bool {
	return slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(publisherRoles, r) })
}

// RequirePublisher is route middleware, after RequireLogin, that lets only
// users with the admin or publisher role through.
func (h *Handlers) RequirePublisher(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u := h.CurrentUser(c); u == nil || !mayPublish(u) {
			return echo.NewHTTPError(http.StatusForbidden, "The Publisher is for users with the admin or publisher role.")
		}
		return next(c)
	}
}

// apiForm is the create and edit form of an API.
type apiForm struct {
	Name          string   `form:"name" validate:"required,max=100"`
	Version       string   `form:"version" validate:"required,max=30"`
	Context       string   `form:"context" validate:"required,max=100"`
	Description   string   `form:"description" validate:"max=2000"`
	ProductionURL string   `form:"production_url" validate:"max=2000"`
	SandboxURL    string   `form:"sandbox_url" validate:"max=2000"`
	Tiers         []string `form:"tiers" validate:"required"`
	Resources     string   `form:"resources" validate:"required,max=20000"`
}

func (f *apiForm) trim() {
	for _, s := range []*string{&f.Name, &f.Version, &f.Context, &f.Description, &f.ProductionURL, &f.SandboxURL} {
		*s = strings.TrimSpace(*s)
	}
}

// Publisher lists every API, GET /store/publisher.
func (h *Handlers) Publisher(c echo.Context) error {
	apis, err := h.store.AllAPIs(c.Request().Context())
	if err != nil {
		return err
	}
	views := make([]store.PublisherAPIView, len(apis))
	for i, a := range apis {
		views[i] = store.PublisherAPIView{ID: a.ID, Name: a.Name, Version: a.Version, Context: a.Context, Status: a.Status,
			Resources: len(a.Resources), ProductionURL: a.ProductionURL, SandboxURL: a.SandboxURL}
	}
	return render(c, http.StatusOK, store.Publisher(h.page(c, "Publisher", layout.NavPublisher), views))
}

// NewAPI is the empty create form, GET /store/publisher/new.
func (h *Handlers) NewAPI(c echo.Context) error {
	return h.apiForm(c, http.StatusOK, store.APIForm{Tiers: portal.Tiers})
}

func (h *Handlers) apiForm(c echo.Context, status int, f store.APIForm) error {
	f.AllTiers = portal.Tiers
	title := "Create API"
	if f.ID != 0 {
		title = "Edit " + f.Name
	}
	return render(c, status, store.EditAPI(h.page(c, title, layout.NavPublisher), f))
}

// CreateAPI publishes a new API, POST /store/publisher.
func (h *Handlers) CreateAPI(c echo.Context) error {
	return h.saveAPI(c, &portal.API{Status: portal.APIPublished}, "published")
}

// EditAPI is the edit form, GET /store/publisher/:id/edit.
func (h *Handlers) EditAPI(c echo.Context) error {
	a, err := h.anyAPI(c)
	if err != nil {
		return err
	}
	return h.apiForm(c, http.StatusOK, store.APIForm{ID: a.ID, Name: a.Name, Version: a.Version, Context: a.Context,
		Description: a.Description, ProductionURL: a.ProductionURL, SandboxURL: a.SandboxURL, Tiers: a.Tiers,
		Resources: gateway.FormatResources(a.Resources)})
}

// UpdateAPI saves the edit form, POST /store/publisher/:id.
func (h *Handlers) UpdateAPI(c echo.Context) error {
	a, err := h.anyAPI(c)
	if err != nil {
		return err
	}
	return h.saveAPI(c, a, "saved")
}

// saveAPI validates the posted form into a and creates (a.ID == 0) or
// updates it, registering the scopes its resources name.
func (h *Handlers) saveAPI(c echo.Context, a *portal.API, done string) error {
	var f apiForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	view := store.APIForm{ID: a.ID, Name: f.Name, Version: f.Version, Context: f.Context, Description: f.Description,
		ProductionURL: f.ProductionURL, SandboxURL: f.SandboxURL, Tiers: f.Tiers, Resources: f.Resources, Errors: errs}
	if view.Errors == nil {
		view.Errors = map[string]string{}
	}
	if errs["tiers"] != "" {
		view.Errors["tiers"] = "Offer at least one tier."
	}
	a.Name, a.Version, a.Context, a.Description = f.Name, f.Version, f.Context, f.Description
	a.ProductionURL, a.SandboxURL, a.Tiers = f.ProductionURL, f.SandboxURL, f.Tiers
	if a.Resources, err = gateway.ParseResources(f.Resources); err != nil && view.Errors["resources"] == "" {
		view.Errors["resources"] = sentence(err.Error())
	}
	for _, p := range gateway.Problems(a) {
		if view.Errors[p.Field] == "" {
			view.Errors[p.Field] = sentence(p.Message)
		}
	}
	if len(view.Errors) > 0 {
		return h.apiForm(c, http.StatusUnprocessableEntity, view)
	}
	ctx := c.Request().Context()
	scopes, err := h.newScopes(c, a)
	if err != nil {
		return err
	}
	if a.ID == 0 {
		err = h.store.ImportAPI(ctx, a, scopes)
	} else {
		err = h.store.UpdateAPI(ctx, a, scopes)
	}
	var overlap *portal.OverlapError
	switch {
	case errors.Is(err, portal.ErrConflict):
		view.Errors["context"] = "Another API already has this context and version."
		return h.apiForm(c, http.StatusUnprocessableEntity, view)
	case errors.As(err, &overlap):
		view.Errors["context"] = sentence(overlap.Error())
		return h.apiForm(c, http.StatusUnprocessableEntity, view)
	}
	if err != nil {
		return err
	}
	h.audit(c, portal.AuditAPIChanged, h.CurrentUser(c).Username, "",
		fmt.Sprintf("API %s %s (%s) %s: production %s, sandbox %s", a.Name, a.Version, a.Context, done, a.ProductionURL, a.SandboxURL))
	if err := h.flash(c, "API "+a.Name+" "+a.Version+" "+done+"."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/store/publisher")
}

// newScopes are the scopes a's resources name that are not registered yet,
// with a description for the consent page (a publisher can change it with
// apistore scope create).
func (h *Handlers) newScopes(c echo.Context, a *portal.API) ([]oauth.Scope, error) {
	var names []string
	for _, r := range a.Resources {
		if r.Scope != "" && !slices.Contains(names, r.Scope) {
			names = append(names, r.Scope)
		}
	}
	known, err := h.store.ScopesByName(c.Request().Context(), names)
	if err != nil {
		return nil, err
	}
	var out []oauth.Scope
	for _, n := range names {
		if !slices.ContainsFunc(known, func(s oauth.Scope) bool { return s.Name == n }) {
			out = append(out, oauth.Scope{Name: n, Description: "The " + n + " operations of " + a.Name})
		}
	}
	return out, nil
}

// RetireAPI stops the gateway serving an API, POST /store/publisher/:id/retire.
func (h *Handlers) RetireAPI(c echo.Context) error {
	return h.setAPIStatus(c, portal.APIRetired, "retired: the gateway refuses its calls")
}

// PublishAPI serves a retired API again, POST /store/publisher/:id/publish.
func (h *Handlers) PublishAPI(c echo.Context) error {
	return h.setAPIStatus(c, portal.APIPublished, "published")
}

func (h *Handlers) setAPIStatus(c echo.Context, status, done string) error {
	a, err := h.anyAPI(c)
	if err != nil {
		return err
	}
	if err := h.store.SetAPIStatus(c.Request().Context(), a.ID, status); err != nil {
		return err
	}
	h.audit(c, portal.AuditAPIChanged, h.CurrentUser(c).Username, "", fmt.Sprintf("API %s %s (%s) %s", a.Name, a.Version, a.Context, status))
	if err := h.flash(c, "API "+a.Name+" "+a.Version+" "+done+"."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/store/publisher")
}

// errNoAPI answers an API id that does not exist.
var errNoAPI = echo.NewHTTPError(http.StatusNotFound, "There is no such API. It may have been deleted.")

// anyAPI loads the API with the URL's :id, whatever its status.
func (h *Handlers) anyAPI(c echo.Context) (*portal.API, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return nil, errNoAPI
	}
	a, err := h.store.APIByID(c.Request().Context(), id)
	if isNotFound(err) {
		return nil, errNoAPI
	}
	return a, err
}
