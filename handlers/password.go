package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// ownPassword is the outcome of checking the password a logged-in user
// typed to confirm a change to their account.
type ownPassword struct {
	ok      bool
	problem string // why not, for the page: a wrong password, or a lockout
	status  int    // the page's status when not ok
}

// checkOwnPassword checks the password a logged-in user typed to confirm a
// change to their account (a new password or email, deleting it). A wrong
// one counts as a failed log-in of the username and the address, as at the
// log-in page: a stolen session must not become a way to guess the
// password, nor to take the account over without it.
func (h *Handlers) checkOwnPassword(c echo.Context, u *portal.User, typed, what string) (ownPassword, error) {
	ctx := c.Request().Context()
	userKey, addrKey := limiterKeys(u.Username, c.RealIP())
	res, wait, err := h.logins.reserve(ctx, userKey, addrKey)
	if err != nil {
		return ownPassword{}, err
	}
	if wait > 0 {
		retryAfter(c, wait)
		return ownPassword{status: http.StatusTooManyRequests,
			problem: fmt.Sprintf("Too many wrong passwords. Wait %d minutes and try again.", int((wait+time.Minute-1)/time.Minute))}, nil
	}
	ok, err := oauth.CheckPasswordFor(ctx, passwordSource(c), u.PasswordHash, typed)
	if err != nil {
		_, serr := h.logins.settle(ctx, res)
		if errors.Is(err, oauth.ErrPasswordBusy) {
			return ownPassword{}, errors.Join(errBusy(c), serr)
		}
		return ownPassword{}, errors.Join(fmt.Errorf("check password: %w", err), serr)
	}
	if !ok {
		locked, err := h.logins.settle(ctx, res, userKey, addrKey)
		if err != nil {
			return ownPassword{}, err
		}
		h.audit(c, portal.AuditLoginFailed, u.Username, "", "wrong current password to "+what+" at My account")
		h.auditLockout(c, locked)
		return ownPassword{status: http.StatusUnprocessableEntity, problem: "This is not your current password."}, nil
	}
	if _, err := h.logins.settle(ctx, res); err != nil {
		return ownPassword{}, err
	}
	return ownPassword{ok: true}, h.logins.succeed(ctx, userKey)
}

// passwordChangeForm is the Password form of My account.
type passwordChangeForm struct {
	Current         string `form:"current_password" validate:"required"`
	Password        string `form:"password" validate:"password"`
	PasswordConfirm string `form:"password_confirm" validate:"eqfield=Password"`
	// EndOthers is the form's "Log out my other sessions…" box, ticked
	// when the page shows it: a form without it ends nothing else.
	EndOthers bool `form:"end_others"`
}

// ChangePassword sets a new password, POST /store/account/password, after
// checking the current one. With the form's box ticked (as it is unless
// the user unticks it) every session of the account ends, this one
// included (the browser gets a new session at once), and so do the tokens
// of the password grant: whoever learnt the old password, and used it,
// holds nothing afterwards.
func (h *Handlers) ChangePassword(c echo.Context) error {
	var f passwordChangeForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	if errs == nil && f.Password == f.Current {
		errs = map[string]string{"password": "Choose a new password, not the one you have now."}
	}
	refuse := func(status int, errs map[string]string, alert string) error {
		return h.renderAccount(c, status, func(v *store.AccountView) {
			v.PasswordErrors, v.PasswordAlert, v.KeepOthers = errs, alert, !f.EndOthers
		})
	}
	if len(errs) > 0 {
		return refuse(http.StatusUnprocessableEntity, errs, "")
	}
	u := h.CurrentUser(c)
	check, err := h.checkOwnPassword(c, u, f.Current, "change the password")
	if err != nil {
		return err
	}
	if !check.ok {
		if check.status == http.StatusTooManyRequests {
			return refuse(check.status, nil, check.problem)
		}
		return refuse(check.status, map[string]string{"current_password": check.problem}, "")
	}
	ctx := c.Request().Context()
	hash, err := oauth.HashPasswordFor(ctx, passwordSource(c), f.Password)
	if errors.Is(err, oauth.ErrPasswordBusy) {
		return errBusy(c)
	} else if err != nil {
		return err
	}
	ended, err := h.store.ChangePassword(ctx, u.ID, hash, oauth.Hash{}, f.EndOthers)
	if err != nil {
		return err
	}
	if f.EndOthers {
		if err := h.logIn(c, u); err != nil {
			return err
		}
	}
	h.notifyPasswordChanged(c, u, "at My account")
	others := max(ended.Sessions-1, 0) // this browser's was one of them
	detail := fmt.Sprintf("at My account: %s logged out, %s of the password grant revoked", count(others, "other session"), count(ended.Tokens, "token"))
	msg := "Password changed."
	if !f.EndOthers {
		detail = "at My account: other sessions and tokens of the password grant kept"
		msg = "Password changed. Your other sessions and the tokens of the password grant are kept."
	} else if others > 0 || ended.Tokens > 0 {
		msg = fmt.Sprintf("Password changed: %s logged out, %s of the password grant revoked.", count(others, "other session"), count(ended.Tokens, "token"))
	}
	h.audit(c, portal.AuditPasswordChanged, u.Username, "", detail)
	return h.flashTo(c, accountPath, msg)
}

// count is n things, in words: "1 token", "2 tokens".
func count(n int64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// emailForm is the Email form of My account.
type emailForm struct {
	Email   string `form:"email" validate:"required,max=254,email"`
	Current string `form:"current_password" validate:"required"`
}

func (f *emailForm) trim() { f.Email = strings.TrimSpace(f.Email) }

// ChangeEmail sets a new email address, POST /store/account/email, after
// checking the password: the address is where a password reset goes, so
// changing it is as good as the password.
func (h *Handlers) ChangeEmail(c echo.Context) error {
	var f emailForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	refuse := func(status int, errs map[string]string, alert string) error {
		return h.renderAccount(c, status, func(v *store.AccountView) { v.NewEmail, v.EmailErrors, v.EmailAlert = f.Email, errs, alert })
	}
	if len(errs) > 0 {
		return refuse(http.StatusUnprocessableEntity, errs, "")
	}
	u := h.CurrentUser(c)
	check, err := h.checkOwnPassword(c, u, f.Current, "change the email address")
	if err != nil {
		return err
	}
	if !check.ok {
		if check.status == http.StatusTooManyRequests {
			return refuse(check.status, nil, check.problem)
		}
		return refuse(check.status, map[string]string{"current_password": check.problem}, "")
	}
	if err := h.store.SetEmail(c.Request().Context(), u.ID, f.Email); err != nil {
		return err
	}
	h.audit(c, portal.AuditEmailChanged, u.Username, "", fmt.Sprintf("at My account, from %q to %q", u.Email, f.Email))
	if !strings.EqualFold(u.Email, f.Email) {
		h.notifyEmailChanged(c, u, u.Email, f.Email)
	}
	return h.flashTo(c, accountPath, "Email changed to "+f.Email+".")
}
