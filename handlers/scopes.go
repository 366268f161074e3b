package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

const scopesPath = "/store/admin/scopes"

// scopeForm is the Scopes page's form: a scope of the administrator's
// tenant, what it allows and who may be granted it.
type scopeForm struct {
	Name        string `form:"name" validate:"scopename"`
	Description string `form:"description" validate:"max=500,text"`
	Roles       string `form:"roles" validate:"max=500,oneline"`
}

func (f *scopeForm) trim() {
	f.Name, f.Description, f.Roles = strings.TrimSpace(f.Name), strings.TrimSpace(f.Description), strings.TrimSpace(f.Roles)
}

// Scopes shows the scopes of the administrator's tenant, GET
// /store/admin/scopes, with who may be granted each, and the form that
// registers a scope or changes one; ?name= fills the form in with that
// scope.
func (h *Handlers) Scopes(c echo.Context) error {
	v, err := h.scopesView(c)
	if err != nil {
		return err
	}
	if name := c.QueryParam("name"); name != "" {
		for _, sc := range v.Scopes {
			if sc.Name == name {
				v.Form = store.ScopeForm{Name: sc.Name, Description: sc.Description, Roles: strings.Join(sc.Roles, ", ")}
			}
		}
	}
	return render(c, http.StatusOK, store.Scopes(h.page(c, "Scopes", layout.NavScopes), v))
}

// SetScope registers a scope of the administrator's tenant or replaces
// one's description and roles, POST /store/admin/scopes. Tokens issued
// before keep the scopes they have.
func (h *Handlers) SetScope(c echo.Context) error {
	var f scopeForm
	problems, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	roles, problem := parseRoles(f.Roles)
	if problem != "" && problems["roles"] == "" {
		if problems == nil {
			problems = map[string]string{}
		}
		problems["roles"] = problem
	}
	if problems != nil {
		v, err := h.scopesView(c)
		if err != nil {
			return err
		}
		v.Form = store.ScopeForm{Name: f.Name, Description: f.Description, Roles: f.Roles, Errors: problems}
		return render(c, http.StatusUnprocessableEntity, store.Scopes(h.page(c, "Scopes", layout.NavScopes), v))
	}
	me := h.CurrentUser(c)
	if err := h.store.PutScope(c.Request().Context(), me.Tenant, oauth.Scope{Name: f.Name, Description: f.Description, Roles: roles}); err != nil {
		return err
	}
	who := "any user"
	if len(roles) > 0 {
		who = "users with the roles " + strings.Join(roles, ", ")
	}
	h.audit(c, portal.AuditScopeChanged, me.Username, "", fmt.Sprintf("on the Scopes page: scope %s, roles %q", f.Name, strings.Join(roles, ",")))
	return h.flashTo(c, scopesPath, fmt.Sprintf("Scope %s is saved: new tokens get it for %s.", f.Name, who))
}

// scopesView lists the scopes of the administrator's tenant.
func (h *Handlers) scopesView(c echo.Context) (store.ScopesView, error) {
	me := h.CurrentUser(c)
	scopes, err := h.store.Scopes(c.Request().Context(), me.Tenant)
	if err != nil {
		return store.ScopesView{}, err
	}
	v := store.ScopesView{Tenant: portal.TenantOrSuper(me.Tenant)}
	for _, sc := range scopes {
		v.Scopes = append(v.Scopes, store.ScopeRow{Name: sc.Name, Description: sc.Description, Roles: sc.Roles})
	}
	return v, nil
}
