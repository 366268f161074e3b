package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

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
	Name          string   `form:"name" validate:"required,max=100,oneline"`
	Version       string   `form:"version" validate:"required,max=30"`
	Context       string   `form:"context" validate:"required,max=100"`
	Description   string   `form:"description" validate:"max=2000,text"`
	Tags          string   `form:"tags" validate:"max=500,oneline"`
	ProductionURL string   `form:"production_url" validate:"max=2000"`
	SandboxURL    string   `form:"sandbox_url" validate:"max=2000"`
	Tiers         []string `form:"tiers" validate:"required"`
	Resources     string   `form:"resources" validate:"required,max=20000"`
	// Who may be granted the scopes the resources add: newScopeRoles (the
	// roles in NewScopeRoles) or newScopeAnyone. Asked only when there
	// are new scopes, and then required: a scope without roles may be
	// granted to any user, which must be a choice, not a default.
	NewScopeAccess string `form:"new_scope_access"`
	NewScopeRoles  string `form:"new_scope_roles" validate:"max=500,oneline"`
	// The API's CORS settings at the gateway, space- or comma-separated.
	CORSOrigins string `form:"cors_origins" validate:"max=2000,oneline"`
	CORSHeaders string `form:"cors_headers" validate:"max=1000,oneline"`
	CORSMethods string `form:"cors_methods" validate:"max=200,oneline"`
	// PassMethodOverride is the box that has the gateway pass method
	// overrides on to the backend, checking calls as both methods.
	PassMethodOverride bool `form:"pass_method_override"`
	// BackendJWT is the box that has the gateway send the backend a
	// signed JWT about the caller (X-JWT-Assertion).
	BackendJWT bool `form:"backend_jwt"`
	// Shared is the box that shows the API to other tenants' developers.
	Shared bool `form:"shared"`
}

// list splits a space- or comma-separated field.
func list(s string) []string {
	return strings.FieldsFunc(s, func(c rune) bool { return c == ',' || unicode.IsSpace(c) })
}

// The choices of apiForm.NewScopeAccess.
const (
	newScopeRoles  = "roles"
	newScopeAnyone = "anyone"
)

var rolePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// parseRoles reads a list of role names, commas or spaces between them,
// each kept once; a name that is no role name is the problem, as a
// sentence.
func parseRoles(s string) (roles []string, problem string) {
	for _, r := range list(s) {
		if !rolePattern.MatchString(r) {
			return nil, fmt.Sprintf("%q is not a role name: use letters, digits, dots, dashes or underscores, e.g. admin.", r)
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return roles, ""
}

// newScopeRolesFor checks the form's choice of who may be granted the new
// scopes and returns their roles (nil: any user), or the field and message
// of what is wrong.
func (f *apiForm) newScopeRolesFor(names []string) (roles []string, field, message string) {
	switch f.NewScopeAccess {
	case newScopeAnyone:
		return nil, "", ""
	case newScopeRoles:
		roles, problem := parseRoles(f.NewScopeRoles)
		switch {
		case problem != "":
			return nil, "new_scope_roles", problem
		case len(roles) == 0:
			return nil, "new_scope_roles", "Name at least one role, or choose Any user."
		}
		return roles, "", ""
	}
	scopes, them := "scope "+names[0], "it"
	if len(names) > 1 {
		scopes, them = "scopes "+strings.Join(names, ", "), "them"
	}
	return nil, "new_scope_access", fmt.Sprintf("The resources add the %s: choose who may be granted %s.", scopes, them)
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
	u := h.CurrentUser(c)
	apis = slices.DeleteFunc(apis, func(a portal.API) bool { return !ownTenant(u, &a) })
	views := make([]store.PublisherAPIView, len(apis))
	for i, a := range apis {
		views[i] = store.PublisherAPIView{ID: a.ID, Name: a.Name, Version: a.Version, Context: a.Context, Status: a.Status,
			Resources: len(a.Resources), ProductionURL: a.ProductionURL, SandboxURL: a.SandboxURL,
			ProductionBuiltin: a.ProductionURL == portal.SampleEndpoint, SandboxBuiltin: a.SandboxURL == portal.SampleEndpoint}
	}
	return render(c, http.StatusOK, store.Publisher(h.page(c, "Publisher", layout.NavPublisher), views))
}

// NewAPI is the empty create form, GET /store/publisher/new.
func (h *Handlers) NewAPI(c echo.Context) error {
	return h.apiForm(c, http.StatusOK, store.APIForm{Tiers: portal.Tiers})
}

func (h *Handlers) apiForm(c echo.Context, status int, f store.APIForm) error {
	tiers, err := h.tenantTiers(c)
	if err != nil {
		return err
	}
	f.AllTiers, f.SampleEndpoint = tiers, portal.SampleEndpoint
	title := "Create API"
	if f.ID != 0 {
		title = "Edit " + f.Name
	}
	return render(c, status, store.EditAPI(h.page(c, title, layout.NavPublisher), f))
}

// tenantTiers are the names of the tiers of the publisher's tenant, which
// its APIs may offer: the default ones and the tenant's own.
func (h *Handlers) tenantTiers(c echo.Context) ([]string, error) {
	tiers, err := h.viewerTiers(c)
	return portal.TierNames(tiers), err
}

// viewerTiers are the tiers of the viewer's tenant (portal.TenantTiers):
// the default ones, each with the tenant's limit if it set one, then its
// own.
func (h *Handlers) viewerTiers(c echo.Context) ([]portal.Tier, error) {
	custom, err := h.store.Tiers(c.Request().Context(), h.viewerTenant(c))
	if err != nil {
		return nil, err
	}
	return portal.TenantTiers(custom), nil
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
		Resources: gateway.FormatResources(a.Resources), CORSOrigins: strings.Join(a.CORS.Origins, " "),
		CORSHeaders: strings.Join(a.CORS.Headers, " "), CORSMethods: strings.Join(a.CORS.Methods, " "),
		Tags: strings.Join(a.Tags, ", "), PassMethodOverride: a.PassMethodOverride, BackendJWT: a.BackendJWT, Shared: a.Shared})
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
		ProductionURL: f.ProductionURL, SandboxURL: f.SandboxURL, Tiers: f.Tiers, Resources: f.Resources, Errors: errs,
		NewScopeAccess: f.NewScopeAccess, NewScopeRoles: f.NewScopeRoles, CORSOrigins: f.CORSOrigins, CORSHeaders: f.CORSHeaders,
		CORSMethods: f.CORSMethods, Tags: f.Tags, PassMethodOverride: f.PassMethodOverride, BackendJWT: f.BackendJWT,
		Shared: f.Shared}
	if view.Errors == nil {
		view.Errors = map[string]string{}
	}
	if errs["tiers"] != "" {
		view.Errors["tiers"] = "Offer at least one tier."
	}
	a.Name, a.Version, a.Context, a.Description = f.Name, f.Version, f.Context, f.Description
	a.ProductionURL, a.SandboxURL, a.Tiers = f.ProductionURL, f.SandboxURL, f.Tiers
	a.CORS = portal.CORS{Origins: list(f.CORSOrigins), Headers: list(f.CORSHeaders), Methods: list(f.CORSMethods)}
	a.PassMethodOverride, a.BackendJWT, a.Shared = f.PassMethodOverride, f.BackendJWT, f.Shared
	if a.ID == 0 {
		a.TenantID = max(h.CurrentUser(c).TenantID, portal.SuperTenantID)
	}
	if problem := tenantAPIContext(h.CurrentUser(c), a); problem != "" {
		view.Errors["context"] = problem
	}
	if a.Tags, err = portal.ParseTags(f.Tags); err != nil && view.Errors["tags"] == "" {
		view.Errors["tags"] = sentence(err.Error())
	}
	// Every bad resource line is reported, one a line; other fields have
	// one message each.
	var resourceErrs []string
	a.Resources, err = gateway.ParseResources(f.Resources)
	if err != nil {
		for line := range strings.SplitSeq(err.Error(), "\n") {
			resourceErrs = append(resourceErrs, sentence(line))
		}
	}
	tiers, terr := h.tenantTiers(c)
	if terr != nil {
		return terr
	}
	for _, t := range a.Tiers {
		if !slices.Contains(tiers, t) && view.Errors["tiers"] == "" {
			view.Errors["tiers"] = fmt.Sprintf("Unknown tier %q: offer some of %s.", t, strings.Join(tiers, ", "))
		}
	}
	for _, p := range gateway.Problems(a) {
		switch {
		case p.Field == "tiers": // checked against the tenant's tiers above
		case p.Field == "resources" && err == nil: // else ParseResources said it, by line
			resourceErrs = append(resourceErrs, sentence(p.Message))
		case p.Field != "resources" && view.Errors[p.Field] == "":
			view.Errors[p.Field] = sentence(p.Message)
		}
	}
	if len(resourceErrs) > 0 && view.Errors["resources"] == "" {
		view.Errors["resources"] = strings.Join(resourceErrs, "\n")
	}
	ctx := c.Request().Context()
	scopes, err := h.newScopes(c, a)
	if err != nil {
		return err
	}
	if len(scopes) > 0 {
		names := make([]string, len(scopes))
		for i, sc := range scopes {
			names[i] = sc.Name
		}
		roles, field, message := f.newScopeRolesFor(names)
		if field != "" && view.Errors[field] == "" {
			view.Errors[field] = message
		}
		for i := range scopes {
			scopes[i].Roles = roles
		}
	}
	if len(view.Errors) > 0 {
		return h.apiForm(c, http.StatusUnprocessableEntity, view)
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
	added := newScopesSentence(scopes)
	h.audit(c, portal.AuditAPIChanged, h.CurrentUser(c).Username, "",
		strings.TrimSpace(fmt.Sprintf("API %s %s (%s) %s: production %s, sandbox %s. %s", a.Name, a.Version, a.Context, done, a.ProductionURL, a.SandboxURL, added)))
	return h.flashTo(c, "/store/publisher", strings.TrimSpace("API "+a.Name+" "+a.Version+" "+done+". "+added))
}

// newScopes are the scopes a's resources name that are not registered yet
// in its tenant, with a description for the consent page (a publisher can
// change it with apistore scope create).
func (h *Handlers) newScopes(c echo.Context, a *portal.API) ([]oauth.Scope, error) {
	var names []string
	for _, r := range a.Resources {
		if r.Scope != "" && !slices.Contains(names, r.Scope) {
			names = append(names, r.Scope)
		}
	}
	known, err := h.store.ScopesByName(c.Request().Context(), portal.ContextTenant(a.Context), names)
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

// newScopesSentence says which scopes a save registered and who may be
// granted them ("" for none).
func newScopesSentence(scopes []oauth.Scope) string {
	if len(scopes) == 0 {
		return ""
	}
	names := make([]string, len(scopes))
	for i, sc := range scopes {
		names[i] = sc.Name
	}
	who := "any user"
	if roles := scopes[0].Roles; len(roles) > 0 {
		who = "users with the role " + roles[0]
		if len(roles) > 1 {
			who = "users with the roles " + strings.Join(roles, ", ")
		}
	}
	if len(names) == 1 {
		return "New scope " + names[0] + ": " + who + "."
	}
	return "New scopes " + strings.Join(names, ", ") + ": " + who + "."
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
	return h.flashTo(c, "/store/publisher", "API "+a.Name+" "+a.Version+" "+done+".")
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
	if isNotFound(err) || (err == nil && !ownTenant(h.CurrentUser(c), a)) {
		return nil, errNoAPI
	}
	return a, err
}
