package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/components"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// applicationForm is the add and edit form of an application.
type applicationForm struct {
	Name        string `form:"name" validate:"required,max=100,oneline"`
	Description string `form:"description" validate:"max=1000,text"`
	CallbackURL string `form:"callback_url" validate:"callback"`
	Tier        string `form:"tier" validate:"required,max=100"` // one of the tenant's tiers
	// JWTAccessTokens is the box that has a new application's access
	// tokens issued as JWTs (RFC 9068); an existing one keeps its kind.
	JWTAccessTokens bool `form:"jwt_access_tokens"`
	// DPoPRequired is the box that has the application's keys get tokens
	// only with a DPoP proof.
	DPoPRequired bool `form:"dpop_required"`
}

func (f *applicationForm) trim() {
	f.Name, f.Description, f.CallbackURL = strings.TrimSpace(f.Name), strings.TrimSpace(f.Description), strings.TrimSpace(f.CallbackURL)
}

// Applications lists the user's applications, GET /store/applications.
func (h *Handlers) Applications(c echo.Context) error {
	apps, err := h.store.ApplicationsByOwner(c.Request().Context(), h.CurrentUser(c).ID)
	if err != nil {
		return err
	}
	views := make([]store.ApplicationView, len(apps))
	for i := range apps {
		views[i] = applicationView(&apps[i])
	}
	return render(c, http.StatusOK, store.Applications(h.page(c, "My Applications", layout.NavApplications), views))
}

func applicationView(a *portal.Application) store.ApplicationView {
	return store.ApplicationView{ID: a.ID, Name: a.Name, Description: a.Description, CallbackURL: a.CallbackURL, Tier: a.Tier}
}

// appOptions are the choices of an application picker.
func appOptions(apps []portal.Application) []components.Option {
	out := make([]components.Option, len(apps))
	for i, a := range apps {
		out[i] = components.Option{Value: strconv.FormatInt(a.ID, 10), Label: a.Name}
	}
	return out
}

// NewApplication is the empty add form, GET /store/applications/new.
func (h *Handlers) NewApplication(c echo.Context) error {
	return h.applicationForm(c, http.StatusOK, store.ApplicationForm{Tier: portal.Tiers[0]})
}

func (h *Handlers) applicationForm(c echo.Context, status int, f store.ApplicationForm) error {
	tiers, err := h.tenantTiers(c)
	if err != nil {
		return err
	}
	f.Tiers = tiers
	title := "Add application"
	if f.ID != 0 {
		title = "Edit application"
	}
	return render(c, status, store.EditApplication(h.page(c, title, layout.NavApplications), f))
}

// AddApplication creates an application, POST /store/applications.
func (h *Handlers) AddApplication(c echo.Context) error {
	return h.saveApplication(c, &portal.Application{OwnerID: h.CurrentUser(c).ID}, "added")
}

// EditApplication is the edit form, GET /store/applications/:id/edit.
func (h *Handlers) EditApplication(c echo.Context) error {
	a, err := h.ownedApplication(c, c.Param("id"))
	if err != nil {
		return err
	}
	return h.applicationForm(c, http.StatusOK, store.ApplicationForm{ID: a.ID, Name: a.Name,
		Description: a.Description, CallbackURL: a.CallbackURL, Tier: a.Tier, JWTAccessTokens: a.JWTAccessTokens, DPoPRequired: a.DPoPRequired})
}

// UpdateApplication saves the edit form, POST /store/applications/:id.
func (h *Handlers) UpdateApplication(c echo.Context) error {
	a, err := h.ownedApplication(c, c.Param("id"))
	if err != nil {
		return err
	}
	return h.saveApplication(c, a, "saved")
}

// saveApplication validates the posted form into a and creates (a.ID == 0)
// or updates it.
func (h *Handlers) saveApplication(c echo.Context, a *portal.Application, done string) error {
	var f applicationForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	if a.ID == 0 {
		a.JWTAccessTokens = f.JWTAccessTokens
	}
	tiers, err := h.tenantTiers(c)
	if err != nil {
		return err
	}
	if errs["tier"] == "" && !slices.Contains(tiers, f.Tier) {
		if errs == nil {
			errs = map[string]string{}
		}
		errs["tier"] = "Choose one of: " + strings.Join(tiers, ", ") + "."
	}
	view := store.ApplicationForm{ID: a.ID, Name: f.Name, Description: f.Description, CallbackURL: f.CallbackURL, Tier: f.Tier,
		JWTAccessTokens: a.JWTAccessTokens, DPoPRequired: f.DPoPRequired, Errors: errs}
	if len(errs) > 0 {
		return h.applicationForm(c, http.StatusUnprocessableEntity, view)
	}
	a.Name, a.Description, a.CallbackURL, a.Tier = f.Name, f.Description, f.CallbackURL, f.Tier
	ctx := c.Request().Context()
	dpopChanged := a.ID != 0 && a.DPoPRequired != f.DPoPRequired
	a.DPoPRequired = f.DPoPRequired
	if a.ID == 0 {
		err = h.store.CreateApplication(ctx, a)
	} else {
		err = h.store.UpdateApplication(ctx, a)
	}
	if err == nil && dpopChanged {
		err = h.store.SetApplicationDPoP(ctx, a.OwnerID, a.ID, a.DPoPRequired)
	}
	if isNotFound(err) { // deleted meanwhile, e.g. in another tab
		return errNoApplication
	}
	if errors.Is(err, portal.ErrConflict) {
		view.Errors = map[string]string{"name": "You already have an application with this name."}
		return h.applicationForm(c, http.StatusUnprocessableEntity, view)
	}
	if err != nil {
		return err
	}
	if done == "added" {
		h.audit(c, portal.AuditApplicationCreated, h.CurrentUser(c).Username, "", "application "+a.Name)
	} else {
		// The callback URL decides where codes and implicit tokens go.
		client, detail := h.appAuditFields(c, a.ID, a.Name)
		h.audit(c, portal.AuditApplicationUpdated, h.CurrentUser(c).Username, client,
			fmt.Sprintf("%s: tier %s, callback URL %q, DPoP required %t", detail, a.Tier, a.CallbackURL, a.DPoPRequired))
	}
	return h.flashTo(c, "/store/applications", "Application "+a.Name+" "+done+".")
}

// ConfirmDeleteApplication asks before deleting, GET /store/applications/:id/delete.
func (h *Handlers) ConfirmDeleteApplication(c echo.Context) error {
	a, err := h.ownedApplication(c, c.Param("id"))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, store.DeleteApplication(h.page(c, "Delete "+a.Name, layout.NavApplications), applicationView(a)))
}

// DeleteApplication deletes an application and ends all its keys and
// tokens, POST /store/applications/:id/delete.
func (h *Handlers) DeleteApplication(c echo.Context) error {
	a, err := h.ownedApplication(c, c.Param("id"))
	if err != nil {
		return err
	}
	client, detail := h.appAuditFields(c, a.ID, a.Name)
	err = h.store.DeleteApplication(c.Request().Context(), a.OwnerID, a.ID)
	if isNotFound(err) { // deleted meanwhile: a double-clicked Delete, or another tab
		return errNoApplication
	}
	if err != nil {
		return err
	}
	h.audit(c, portal.AuditApplicationDeleted, h.CurrentUser(c).Username, client, detail+"; its keys and tokens ended")
	return h.flashTo(c, "/store/applications", "Application "+a.Name+" deleted; its keys and tokens no longer work.")
}

// errNoApplication is the answer for an application id that is not the
// user's: the same 404 as for one that does not exist.
var errNoApplication = echo.NewHTTPError(http.StatusNotFound,
	"There is no such application among yours. It may have been deleted.")

// ownedApplication loads the logged-in user's application with the id in
// the URL or form; any other id is errNoApplication.
func (h *Handlers) ownedApplication(c echo.Context, rawID string) (*portal.Application, error) {
	id, err := strconv.ParseInt(rawID, 10, 64)
	if err != nil {
		return nil, errNoApplication
	}
	a, err := h.store.OwnedApplication(c.Request().Context(), h.CurrentUser(c).ID, id)
	if isNotFound(err) {
		return nil, errNoApplication
	}
	return a, err
}
