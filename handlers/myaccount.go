package handlers

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// accountPath is the My account page.
const accountPath = "/store/account"

// ShowAccount is the My account page, GET /store/account: the user's
// profile and the sessions logged in to their account.
func (h *Handlers) ShowAccount(c echo.Context) error {
	return h.renderAccount(c, http.StatusOK, nil)
}

// renderAccount shows the My account page, as edit (when not nil) makes
// it: a refused form with its messages.
func (h *Handlers) renderAccount(c echo.Context, status int, edit func(*store.AccountView)) error {
	v, err := h.accountView(c)
	if err != nil {
		return err
	}
	if edit != nil {
		edit(&v)
	}
	return render(c, status, store.Account(h.page(c, "My account", layout.NavAccount), v))
}

// accountView is what the My account page shows of the logged-in user.
func (h *Handlers) accountView(c echo.Context) (store.AccountView, error) {
	u := h.CurrentUser(c)
	list, err := h.store.UserSessions(c.Request().Context(), u.ID, h.now())
	if err != nil {
		return store.AccountView{}, err
	}
	current := h.currentSession(c)
	v := store.AccountView{Username: u.Username, Email: u.Email, Roles: strings.Join(u.Roles, ", "),
		MemberSince: formatTime(u.CreatedAt)}
	for _, s := range list {
		row := store.SessionRow{ID: hex.EncodeToString(s.ID[:]), Browser: describeAgent(s.UserAgent), UserAgent: s.UserAgent,
			Address: s.Address, Started: formatTime(s.CreatedAt), LastSeen: formatTime(s.LastSeenAt)}
		if current != nil && s.ID == current.ID {
			row.Current = true
			v.Sessions = append([]store.SessionRow{row}, v.Sessions...) // this one first
			continue
		}
		v.Sessions = append(v.Sessions, row)
	}
	return v, nil
}

// endSessionForm names a session of the user's list.
type endSessionForm struct {
	Session string `form:"session" validate:"required,len=64,hexadecimal"`
}

// errNoSuchSession answers for a session that is not the user's, or ended.
var errNoSuchSession = echo.NewHTTPError(http.StatusNotFound,
	"This session has ended already, or is not one of yours. Reload My account to see your sessions.")

// EndSession logs out one of the user's sessions, POST
// /store/account/sessions/end: the browser that holds it is logged out at
// its next request. Ending the current one is logging out.
func (h *Handlers) EndSession(c echo.Context) error {
	var f endSessionForm
	problems, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	if problems != nil {
		return errNoSuchSession
	}
	var id oauth.Hash
	if _, err := hex.Decode(id[:], []byte(f.Session)); err != nil {
		return errNoSuchSession
	}
	u := h.CurrentUser(c)
	if s := h.currentSession(c); s != nil && s.ID == id {
		return h.LogOut(c)
	}
	err = h.store.EndSession(c.Request().Context(), u.ID, id)
	if isNotFound(err) {
		return errNoSuchSession
	}
	if err != nil {
		return err
	}
	h.audit(c, portal.AuditSessionEnded, u.Username, "", "one session logged out from My account")
	return h.flashTo(c, accountPath+"#sessions", "The session is logged out.")
}

// EndOtherSessions logs out every session of the user but this one, POST
// /store/account/sessions/end-others.
func (h *Handlers) EndOtherSessions(c echo.Context) error {
	if err := checkFormBody(c); err != nil {
		return err
	}
	u, s := h.CurrentUser(c), h.currentSession(c)
	var keep oauth.Hash
	if s != nil {
		keep = s.ID
	}
	n, err := h.store.EndOtherSessions(c.Request().Context(), u.ID, keep)
	if err != nil {
		return err
	}
	msg := "There were no other sessions."
	if n > 0 {
		h.audit(c, portal.AuditSessionEnded, u.Username, "", fmt.Sprintf("%d other sessions logged out from My account", n))
		msg = fmt.Sprintf("%d other sessions logged out.", n)
		if n == 1 {
			msg = "1 other session logged out."
		}
	}
	return h.flashTo(c, accountPath+"#sessions", msg)
}

// deleteAccountView is what the page that asks before deleting the user's
// account says will go.
func (h *Handlers) deleteAccountView(c echo.Context) (store.DeleteAccountView, error) {
	u, ctx := h.CurrentUser(c), c.Request().Context()
	v := store.DeleteAccountView{Username: u.Username}
	apps, err := h.store.ApplicationsByOwner(ctx, u.ID)
	if err != nil {
		return v, err
	}
	for _, a := range apps {
		v.Applications = append(v.Applications, a.Name)
	}
	consents, err := h.store.Consents(ctx, u.ID)
	if err != nil {
		return v, err
	}
	for _, a := range consents {
		v.Authorized = append(v.Authorized, a.AppName)
	}
	v.OnlyAdmin, err = h.onlyAdmin(c, u)
	return v, err
}

// onlyAdmin reports whether u is the last user of their tenant with the
// admin role, who may not go: no one would be left to manage the tenant's
// users or read its audit trail.
func (h *Handlers) onlyAdmin(c echo.Context, u *portal.User) (bool, error) {
	if !isAdmin(u) {
		return false, nil
	}
	n, err := h.store.CountUsersWithRole(c.Request().Context(), portal.TenantIDOf(u.TenantID), auditRole)
	return n <= 1, err
}

// ConfirmDeleteAccount asks before DeleteAccount, GET /store/account/delete.
func (h *Handlers) ConfirmDeleteAccount(c echo.Context) error {
	v, err := h.deleteAccountView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, store.DeleteAccount(h.page(c, "Delete your account", layout.NavAccount), v))
}

// deleteAccountForm confirms deleting one's account.
type deleteAccountForm struct {
	Current string `form:"current_password" validate:"required"`
}

// DeleteAccount deletes the user's own account, POST /store/account/delete,
// after checking the password: the user, their applications with their
// keys and subscriptions, every token issued for the user or to their keys,
// their consents and sessions go at once (the schema cascades; the gateway
// refuses the tokens at the next call).
func (h *Handlers) DeleteAccount(c echo.Context) error {
	var f deleteAccountForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	v, err := h.deleteAccountView(c)
	if err != nil {
		return err
	}
	page := func(status int) error {
		return render(c, status, store.DeleteAccount(h.page(c, "Delete your account", layout.NavAccount), v))
	}
	if v.OnlyAdmin {
		return page(http.StatusConflict)
	}
	if errs != nil {
		v.PasswordError = errs["current_password"]
		return page(http.StatusUnprocessableEntity)
	}
	u := h.CurrentUser(c)
	check, err := h.checkOwnPassword(c, u, f.Current, "delete the account")
	if err != nil {
		return err
	}
	if !check.ok {
		if check.status == http.StatusTooManyRequests {
			v.Alert = check.problem
		} else {
			v.PasswordError = check.problem
		}
		return page(check.status)
	}
	if err := h.store.DeleteUser(c.Request().Context(), u.Username); err != nil {
		return err
	}
	detail := "deleted their own account at My account"
	if len(v.Applications) > 0 {
		detail += ", with the applications " + strings.Join(v.Applications, ", ")
	}
	h.audit(c, portal.AuditUserDeleted, u.Username, "", detail)
	// The sessions went with the account; the cookie keeps only a goodbye.
	s := h.session(c)
	s.Values = map[any]any{}
	s.AddFlash("Your account " + u.Username + " is deleted. Everything issued for it has stopped working.")
	c.Set(userCacheKey, (*portal.User)(nil))
	c.Set(sessCacheKey, (*portal.Session)(nil))
	if err := h.saveSession(c, s); err != nil {
		return err
	}
	return storeRedirect(c, "/store")
}
