package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// loginForm is the log-in form. Its fields are checked against the account,
// not validated: a log-in never says which part was wrong.
type loginForm struct {
	Username string `form:"username"`
	Password string `form:"password"`
	Return   string `form:"return"`
}

// trim drops spaces around the username, as sign-up does: a username has
// none.
func (f *loginForm) trim() { f.Username = strings.TrimSpace(f.Username) }

// ShowLogin is the log-in page, GET /store/login?return=…
func (h *Handlers) ShowLogin(c echo.Context) error {
	ret := safeReturn(c.QueryParam("return"), h.returnHosts(c))
	if h.CurrentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, orStore(c, ret))
	}
	return render(c, http.StatusOK, store.Login(h.page(c, "Log in", ""), store.LoginView{Return: ret}))
}

// LogIn checks a username and password, POST /store/login. Too many
// failures for the username or the address lock log-ins for a while; the
// answers are the same whether or not the user exists.
func (h *Handlers) LogIn(c echo.Context) error {
	var f loginForm
	if _, err := h.bindForm(c, &f); err != nil {
		return err
	}
	f.Username = tenantLogin(c, f.Username)
	view := store.LoginView{Username: f.Username, Return: safeReturn(f.Return, h.returnHosts(c))}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	if action := form.Get(keptActionField); keptAction(action) { // a form sent while logged out, carried through
		view.KeptAction, view.Kept = action, keptFields(form, keptPrefix)
	}
	ctx := c.Request().Context()
	userKey, addrKey := limiterKeys(f.Username, c.RealIP())
	res, wait, err := h.logins.reserve(ctx, userKey, addrKey)
	if err != nil {
		return err
	}
	if wait > 0 {
		view.Error = fmt.Sprintf("Too many failed log-ins. Wait %d minutes and try again.", int((wait+time.Minute-1)/time.Minute))
		retryAfter(c, wait)
		return render(c, http.StatusTooManyRequests, store.Login(h.page(c, "Log in", ""), view))
	}
	u, ok, err := h.checkLogIn(c, f.Username, f.Password)
	if errors.Is(err, oauth.ErrDirectoryUnavailable) { // neither accepted nor refused: no failure counted
		if _, serr := h.logins.settle(ctx, res); serr != nil {
			return serr
		}
		slog.WarnContext(ctx, "log-in: user store unavailable", "err", err)
		view.Error = "Your user store cannot be reached, so your password cannot be checked. Try again in a few minutes."
		return render(c, http.StatusServiceUnavailable, store.Login(h.page(c, "Log in", ""), view))
	}
	if err != nil {
		_, serr := h.logins.settle(ctx, res)
		if errors.Is(err, oauth.ErrPasswordBusy) {
			return errors.Join(errBusy(c), serr)
		}
		return errors.Join(err, serr)
	}
	if !ok {
		locked, err := h.logins.settle(ctx, res, userKey, addrKey)
		if err != nil {
			return err
		}
		name := h.maskName("user", f.Username) // no such account: maybe a password typed in the wrong field
		if u != nil {
			name = u.Username
		}
		h.audit(c, portal.AuditLoginFailed, name, "", "store")
		h.auditLockout(c, locked)
		view.Error = "Invalid username or password."
		return render(c, http.StatusUnauthorized, store.Login(h.page(c, "Log in", ""), view))
	}
	if _, err := h.logins.settle(ctx, res); err != nil {
		return err
	}
	if u.Disabled { // said only to whoever knows the password
		h.audit(c, portal.AuditLoginFailed, u.Username, "", "store: the account is disabled")
		view.Error = "This account is disabled. Ask an administrator to enable it."
		return render(c, http.StatusForbidden, store.Login(h.page(c, "Log in", ""), view))
	}
	if err := h.logins.succeed(ctx, userKey); err != nil {
		return err
	}
	if err := h.logIn(c, u); err != nil {
		return err
	}
	h.audit(c, portal.AuditLogin, u.Username, "", "store")
	if view.KeptAction != "" {
		return h.resendPage(c, view.KeptAction, form)
	}
	return c.Redirect(http.StatusSeeOther, orStore(c, view.Return))
}

// errBusy answers a log-in or sign-up when too many password checks wait
// already: 503 with Retry-After, as the overload passes in moments.
func errBusy(c echo.Context) error {
	retryAfter(c, time.Second)
	return echo.NewHTTPError(http.StatusServiceUnavailable, "The server is busy. Wait a moment and try again.")
}

// orStore is target, or the front page of the store the URL names when
// there is none.
func orStore(c echo.Context, target string) string {
	if target == "" {
		return tenantPath(c, "/store")
	}
	return target
}

// LogOut ends the session, POST /store/logout.
func (h *Handlers) LogOut(c echo.Context) error {
	if err := h.logOut(c); err != nil {
		return err
	}
	return storeRedirect(c, "/store")
}

// signupForm is the sign-up form.
type signupForm struct {
	Username        string `form:"username" validate:"username"`
	Password        string `form:"password" validate:"password"`
	PasswordConfirm string `form:"password_confirm" validate:"eqfield=Password"`
	Email           string `form:"email" validate:"required,max=254,email"`
	Return          string `form:"return"`
}

// errSignupOff answers the sign-up page when self sign-up is switched off.
var errSignupOff = echo.NewHTTPError(http.StatusNotFound,
	"Sign-up is switched off on this server: ask an administrator for an account.")

func (f *signupForm) trim() {
	f.Username, f.Email = strings.TrimSpace(f.Username), strings.TrimSpace(f.Email)
}

// ShowSignup is the sign-up page, GET /store/signup?return=…
func (h *Handlers) ShowSignup(c echo.Context) error {
	if !h.selfSignup {
		return errSignupOff
	}
	ret := safeReturn(c.QueryParam("return"), h.returnHosts(c))
	if h.CurrentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, orStore(c, ret))
	}
	return render(c, http.StatusOK, store.Signup(h.page(c, "Sign up", ""), store.SignupView{Return: ret}))
}

// SignUp creates an account and logs it in, POST /store/signup.
func (h *Handlers) SignUp(c echo.Context) error {
	if !h.selfSignup {
		return errSignupOff
	}
	var f signupForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	view := store.SignupView{Username: f.Username, Email: f.Email, Return: safeReturn(f.Return, h.returnHosts(c)), Errors: errs}
	taken := func() error {
		view.Errors = map[string]string{"username": "This username is taken; choose another."}
		return render(c, http.StatusUnprocessableEntity, store.Signup(h.page(c, "Sign up", ""), view))
	}
	if len(errs) > 0 {
		return render(c, http.StatusUnprocessableEntity, store.Signup(h.page(c, "Sign up", ""), view))
	}
	ctx := c.Request().Context()
	f.Username = tenantLogin(c, f.Username)
	if other, err := h.otherTenant(c, f.Username); err != nil {
		return err
	} else if other != "" {
		view.Errors = map[string]string{"username": "Names ending with @" + other + " are that tenant's: sign up at its store, /t/" + other + "/store."}
		return render(c, http.StatusUnprocessableEntity, store.Signup(h.page(c, "Sign up", ""), view))
	}
	// A taken name is said before the password is hashed, for nothing.
	if _, err := h.store.UserAccount(ctx, f.Username); err == nil {
		return taken()
	} else if !isNotFound(err) {
		return err
	}
	done, wait, err := h.reserveSignup(c)
	if err != nil {
		return err
	}
	if wait > 0 {
		retryAfter(c, wait)
		view.Error = fmt.Sprintf("Too many sign-ups from your address. Wait %d minutes and try again.", int((wait+time.Minute-1)/time.Minute))
		return render(c, http.StatusTooManyRequests, store.Signup(h.page(c, "Sign up", ""), view))
	}
	hash, err := oauth.HashPasswordFor(ctx, passwordSource(c), f.Password)
	done(err == nil)
	if errors.Is(err, oauth.ErrPasswordBusy) {
		return errBusy(c)
	} else if err != nil {
		return err
	}
	u := &portal.User{User: oauth.User{Username: f.Username, PasswordHash: hash, Roles: []string{"subscriber"}}, Email: f.Email}
	err = h.store.CreateUser(ctx, u)
	if errors.Is(err, portal.ErrConflict) {
		return taken()
	}
	if err != nil {
		return err
	}
	h.audit(c, portal.AuditSignup, u.Username, "", "self sign-up, roles "+strings.Join(u.Roles, ","))
	if err := h.logIn(c, u); err != nil {
		return err
	}
	if err := h.flash(c, "Welcome, "+u.Username+". Your account is ready."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, orStore(c, view.Return))
}
