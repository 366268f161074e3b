package handlers

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/consent"
	"github.com/labstack/echo/v4"
)

// AuthorizedApps lists the applications the user has approved at the
// consent page, GET /store/authorized.
func (h *Handlers) AuthorizedApps(c echo.Context) error {
	u := h.CurrentUser(c)
	list, err := h.store.Consents(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	apps := make([]consent.App, len(list))
	for i, a := range list {
		apps[i] = consent.App{ID: a.AppID, Name: a.AppName, Owner: a.Owner, Scopes: a.Scopes,
			Remembered: a.Remember, ApprovedAt: a.ApprovedAt.UTC().Format("2 Jan 2006 15:04 UTC")}
	}
	return render(c, http.StatusOK, consent.Authorized(h.page(c, "Authorized applications", layout.NavAuthorized), apps))
}

// ConfirmRevokeAccess asks before RevokeAccess, GET
// /store/authorized/revoke?app_id=…
func (h *Handlers) ConfirmRevokeAccess(c echo.Context) error {
	id, err := strconv.ParseInt(c.QueryParam("app_id"), 10, 64)
	if err != nil || id <= 0 {
		return echo.NewHTTPError(http.StatusBadRequest, "Choose an application from the list.")
	}
	list, err := h.store.Consents(c.Request().Context(), h.CurrentUser(c).ID)
	if err != nil {
		return err
	}
	for _, a := range list {
		if a.AppID == id {
			return render(c, http.StatusOK, consent.ConfirmRevoke(h.page(c, "Revoke access of "+a.AppName, layout.NavAuthorized),
				consent.App{ID: a.AppID, Name: a.AppName, Owner: a.Owner}))
		}
	}
	return errNotAuthorized
}

// errNotAuthorized answers for an application the user has not approved.
var errNotAuthorized = echo.NewHTTPError(http.StatusNotFound, "You have not authorized this application, or its access was already revoked.")

// revokeAccessForm names the application whose approval to withdraw.
type revokeAccessForm struct {
	AppID int64 `form:"app_id" validate:"required,gt=0"`
}

// RevokeAccess withdraws the user's approval of an application, POST
// /store/authorized/revoke: its tokens end and the remembered decision is
// forgotten at once.
func (h *Handlers) RevokeAccess(c echo.Context) error {
	var f revokeAccessForm
	problems, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	if problems != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "Choose an application from the list.")
	}
	client, detail := h.consentAuditFields(c, f.AppID)
	err = h.store.RevokeConsent(c.Request().Context(), h.CurrentUser(c).ID, f.AppID)
	if isNotFound(err) {
		return errNotAuthorized
	}
	if err != nil {
		return err
	}
	h.audit(c, portal.AuditConsentRevoked, h.CurrentUser(c).Username, client, detail)
	return h.flashTo(c, "/store/authorized", "Access revoked: the application's tokens no longer work.")
}

// consentAuditFields names the application of one of the user's consents
// for the audit trail (see appAuditFields); one the user has not approved
// is named by its id alone.
func (h *Handlers) consentAuditFields(c echo.Context, appID int64) (client, detail string) {
	consents, err := h.store.Consents(c.Request().Context(), h.CurrentUser(c).ID)
	if err != nil {
		slog.ErrorContext(c.Request().Context(), "audit", "err", err)
	}
	for _, cs := range consents {
		if cs.AppID == appID {
			return h.appAuditFields(c, appID, cs.AppName)
		}
	}
	return "", "application " + strconv.FormatInt(appID, 10)
}
