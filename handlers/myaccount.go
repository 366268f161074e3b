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
	if err := h.flash(c, "The session is logged out."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, accountPath+"#sessions")
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
	if err := h.flash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, accountPath+"#sessions")
}
