package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

const tiersPath = "/store/admin/tiers"

// tierForm is the Tiers page's form: a tier of the administrator's tenant
// and its limit.
type tierForm struct {
	Name        string `form:"name" validate:"tiername"`
	RPM         string `form:"rpm" validate:"tierrpm"`
	Description string `form:"description" validate:"max=500,text"`
}

func (f *tierForm) trim() {
	f.Name, f.RPM, f.Description = strings.TrimSpace(f.Name), strings.TrimSpace(f.RPM), strings.TrimSpace(f.Description)
}

// Tiers shows the throttling tiers of the administrator's tenant, GET
// /store/admin/tiers, with the form that adds a tier or sets the limit of
// one; ?name= fills the form in with that tier.
func (h *Handlers) Tiers(c echo.Context) error {
	v, err := h.tiersView(c)
	if err != nil {
		return err
	}
	if name := c.QueryParam("name"); name != "" {
		for _, t := range v.Tiers {
			if t.Name == name && t.Changeable {
				v.Form = store.TierForm{Name: t.Name, RPM: t.RPM, Description: t.Description}
			}
		}
	}
	return render(c, http.StatusOK, store.Tiers(h.page(c, "Tiers", layout.NavTiers), v))
}

// SetTier adds a tier to the administrator's tenant or sets the limit of
// one of its tiers, POST /store/admin/tiers.
func (h *Handlers) SetTier(c echo.Context) error {
	var f tierForm
	problems, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	if problems != nil {
		v, err := h.tiersView(c)
		if err != nil {
			return err
		}
		v.Form = store.TierForm{Name: f.Name, RPM: f.RPM, Description: f.Description, Errors: problems}
		return render(c, http.StatusUnprocessableEntity, store.Tiers(h.page(c, "Tiers", layout.NavTiers), v))
	}
	rpm, _ := strconv.Atoi(f.RPM) // tierrpm checked it
	me := h.CurrentUser(c)
	if err := h.store.PutTier(c.Request().Context(), portal.Tier{TenantID: h.viewerTenant(c), Name: f.Name, RPM: rpm,
		Description: f.Description}); err != nil {
		return err
	}
	h.audit(c, portal.AuditTierChanged, me.Username, "", fmt.Sprintf("on the Tiers page: tier %s, %s", f.Name, portal.RPMText(rpm)))
	return h.flashTo(c, tiersPath, fmt.Sprintf("Tier %s: %s. The gateway applies it at the next call.", f.Name, portal.RPMText(rpm)))
}

// DeleteTier removes a tier of the administrator's tenant, or the tenant's
// limit of a default tier, POST /store/admin/tiers/delete. A tier in use is
// kept, and the page says why.
func (h *Handlers) DeleteTier(c echo.Context) error {
	var f struct {
		Name string `form:"name" validate:"tiername"`
	}
	problems, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	me := h.CurrentUser(c)
	if problems == nil {
		err = h.store.DeleteTier(c.Request().Context(), h.viewerTenant(c), f.Name)
	}
	var msg string
	switch {
	case problems != nil: // no tier has this name, which the message would carry into the session cookie
		msg = "There is no such tier of your own to delete."
	case errors.Is(err, portal.ErrNotFound):
		msg = fmt.Sprintf("There is no tier %q of your own to delete.", f.Name)
	case errors.Is(err, portal.ErrConflict):
		msg = fmt.Sprintf("Tier %s is in use: remove it from your APIs, subscriptions and applications first.", f.Name)
	case err != nil:
		return err
	case portal.IsDefaultTier(f.Name):
		h.audit(c, portal.AuditTierChanged, me.Username, "", "on the Tiers page: tier "+f.Name+", the gateway's limit again")
		msg = fmt.Sprintf("Tier %s has the gateway's limit again.", f.Name)
	default:
		h.audit(c, portal.AuditTierChanged, me.Username, "", "on the Tiers page: tier "+f.Name+" deleted")
		msg = fmt.Sprintf("Tier %s is deleted.", f.Name)
	}
	return h.flashTo(c, tiersPath, msg)
}

// tiersView lists the tiers of the administrator's tenant: the default
// ones, each with the tenant's limit or the gateway's, then its own.
func (h *Handlers) tiersView(c echo.Context) (store.TiersView, error) {
	tiers, err := h.viewerTiers(c)
	if err != nil {
		return store.TiersView{}, err
	}
	v := store.TiersView{Tenant: portal.TenantOrSuper(h.CurrentUser(c).Tenant)}
	for _, t := range tiers {
		row := store.TierRow{Name: t.Name, Limit: t.Limit(), Description: t.Description, Custom: t.Custom,
			Default: portal.IsDefaultTier(t.Name), Changeable: t.Name != "Unlimited"}
		if t.Custom {
			row.RPM = strconv.Itoa(t.RPM)
		}
		v.Tiers = append(v.Tiers, row)
	}
	return v, nil
}
