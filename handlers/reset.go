package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// DefaultResetValidity is how long an emailed password reset link works.
const DefaultResetValidity = 30 * time.Minute

// ResetPath is the page a reset link opens.
const ResetPath = "/store/password/reset"

// ResetLink is the link that resets a password with token, on the store
// that clients reach at storeURL (its public URL, never a request's Host).
func ResetLink(storeURL, token string) string {
	return strings.TrimSuffix(storeURL, "/") + ResetPath + "?token=" + url.QueryEscape(token)
}

// forgotForm asks for a reset link.
type forgotForm struct {
	Name string `form:"name" validate:"required,max=254"`
}

func (f *forgotForm) trim() { f.Name = strings.TrimSpace(f.Name) }

// ShowForgotPassword is the "Forgot your password?" page, GET
// /store/password/forgot.
func (h *Handlers) ShowForgotPassword(c echo.Context) error {
	return render(c, http.StatusOK, store.Forgot(h.page(c, "Forgot your password?", ""), h.forgotView()))
}

func (h *Handlers) forgotView() store.ForgotView {
	return store.ForgotView{MailOff: h.mailer == nil, Validity: inWords(h.resetValidity)}
}

// ForgotPassword asks for a reset link, POST /store/password/forgot. The
// answer is the same whether or not an account matched, and takes as long:
// the lookup and the mail happen afterwards, in the outbox. An address may
// ask resetRequestLimit times within LoginLockout of each other; an account
// is mailed resetMailLimit links at most in that time.
func (h *Handlers) ForgotPassword(c echo.Context) error {
	if h.mailer == nil {
		return render(c, http.StatusNotFound, store.Forgot(h.page(c, "Forgot your password?", ""), h.forgotView()))
	}
	var f forgotForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	v := h.forgotView()
	v.Name, v.Error = f.Name, errs["name"]
	if errs != nil {
		return render(c, http.StatusUnprocessableEntity, store.Forgot(h.page(c, "Forgot your password?", ""), v))
	}
	done, wait, err := h.reserveCounted(c, resetLimiterKey(c.RealIP()))
	if err != nil {
		return err
	}
	if wait > 0 {
		retryAfter(c, wait)
		v.Alert = fmt.Sprintf("Too many password resets asked for from your address. Wait %d minutes and try again.",
			int((wait+time.Minute-1)/time.Minute))
		return render(c, http.StatusTooManyRequests, store.Forgot(h.page(c, "Forgot your password?", ""), v))
	}
	done(true)
	base := h.storeBase(c)
	// A bare name typed in a tenant's store is the tenant's user's, as at
	// its log-in; an address is looked up as typed.
	typed, name, remote := f.Name, tenantLogin(c, f.Name), c.RealIP()
	h.later("password reset", func(ctx context.Context) { h.mailResetLinks(ctx, typed, name, base, remote) })
	v.Sent = true
	return render(c, http.StatusOK, store.Forgot(h.page(c, "Forgot your password?", ""), v))
}

// mailResetLinks mails a reset link to the account of the username name,
// else to each account of the typed email address (the outbox's job for
// ForgotPassword), and records what it did, or why not, in the audit trail.
func (h *Handlers) mailResetLinks(ctx context.Context, typed, name, base, remote string) {
	var accounts []portal.User
	u, err := h.store.UserAccount(ctx, name)
	switch {
	case err == nil:
		accounts = []portal.User{*u}
	case !isNotFound(err):
		slog.ErrorContext(ctx, "password reset", "err", err)
		return
	case strings.Contains(typed, "@"):
		if accounts, err = h.store.UsersByEmail(ctx, typed); err != nil {
			slog.ErrorContext(ctx, "password reset", "err", err)
			return
		}
	}
	if len(accounts) == 0 {
		h.record(ctx, portal.AuditPasswordResetAsked, h.maskName("user", typed), remote, "no account matches; nothing sent")
		return
	}
	for _, u := range accounts {
		h.record(ctx, portal.AuditPasswordResetAsked, u.Username, remote, h.mailResetLink(ctx, &u, accountStore(base, &u), remote))
	}
}

// storeBase is the store's public URL, else the listener's the request
// came in on.
func (h *Handlers) storeBase(c echo.Context) string {
	if base := h.storeURL(); base != "" {
		return base
	}
	return listenerURL(c)
}

// accountStore is where u's store is under base, the store's URL: a
// tenant's user's link opens the tenant's store, where the user logs in
// after the reset, wherever the link was asked for.
func accountStore(base string, u *portal.User) string {
	if u.TenantID > portal.SuperTenantID {
		if _, domain := portal.SplitTenant(u.Username); domain != "" {
			return base + "/t/" + domain
		}
	}
	return base
}

// mailResetLink mails u a new reset link, unless it cannot or should not
// be, and says which for the audit trail.
func (h *Handlers) mailResetLink(ctx context.Context, u *portal.User, base, remote string) string {
	if u.Email == "" {
		return "the account has no email address; nothing sent"
	}
	if u.Disabled {
		return "the account is disabled; nothing sent"
	}
	key := resetMailKey(u.Username)
	if wait, err := h.logins.wait(ctx, key); err != nil {
		slog.ErrorContext(ctx, "password reset", "err", err)
		return "not sent: " + err.Error()
	} else if wait > 0 {
		return fmt.Sprintf("not sent: %d links were mailed within %d minutes already", resetMailLimit, int(LoginLockout/time.Minute))
	}
	token, now := oauth.NewSecret(), h.now()
	if err := h.store.CreatePasswordReset(ctx, oauth.HashOf(token), u.ID, now, now.Add(h.resetValidity)); err != nil {
		slog.ErrorContext(ctx, "password reset", "err", err)
		return "not sent: the link could not be stored"
	}
	if _, err := h.logins.settle(ctx, reservation{}, key); err != nil {
		slog.ErrorContext(ctx, "password reset", "err", err)
	}
	body := fmt.Sprintf(`Hello %s,

someone, from the address %s, asked to reset the password of your
apistore account %s at %s/store.

To choose a new password, open this link within %s. It works once:

%s

If it was not you, ignore this message: your password stays as it is.
`, u.Username, remote, u.Username, base, inWords(h.resetValidity), ResetLink(base, token))
	if err := h.mailer.Send(ctx, u.Email, "Reset your apistore password", body); err != nil {
		slog.ErrorContext(ctx, "password reset: send mail", "username", u.Username, "err", err)
		return "not sent: the mail server refused it (see the server's log)"
	}
	return "link mailed to " + u.Email + ", valid " + inWords(h.resetValidity)
}

// inWords says a duration as people do: "60 minutes", "24 hours".
func inWords(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d > 2*time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= time.Minute:
		return count(int64(d/time.Minute), "minute")
	}
	return count(int64(d/time.Second), "second")
}

// resetForm chooses a new password with a reset link's token.
type resetForm struct {
	Token           string `form:"token"`
	Password        string `form:"password" validate:"password"`
	PasswordConfirm string `form:"password_confirm" validate:"eqfield=Password"`
}

// badLink answers a reset link that does not work (any more).
func (h *Handlers) badLink(c echo.Context) error {
	return render(c, http.StatusNotFound, store.Reset(h.page(c, "Reset your password", ""), store.ResetView{Invalid: true}))
}

// resetUser is the user a reset link's token is good for now, or nil.
func (h *Handlers) resetUser(c echo.Context, token string) (*portal.User, error) {
	if len(token) != 43 { // oauth.NewSecret's length: anything else was never issued
		return nil, nil
	}
	u, err := h.store.PasswordResetUser(c.Request().Context(), oauth.HashOf(token), h.now())
	if isNotFound(err) {
		return nil, nil
	}
	return u, err
}

// ShowResetPassword is the page a reset link opens, GET
// /store/password/reset?token=…: a new password for the account.
func (h *Handlers) ShowResetPassword(c echo.Context) error {
	token := c.QueryParam("token")
	u, err := h.resetUser(c, token)
	if err != nil {
		return err
	}
	if u == nil {
		return h.badLink(c)
	}
	return render(c, http.StatusOK, store.Reset(h.page(c, "Reset your password", ""), store.ResetView{Username: u.Username, Token: token}))
}

// ResetPassword sets the new password of a reset link, POST
// /store/password/reset: the link is used up, and every session of the
// account and every token of the password grant end, as with a changed
// password. The username's failed log-ins are forgiven: whoever has the
// mailbox is the owner.
func (h *Handlers) ResetPassword(c echo.Context) error {
	var f resetForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	u, err := h.resetUser(c, f.Token)
	if err != nil {
		return err
	}
	if u == nil {
		return h.badLink(c)
	}
	if errs != nil {
		return render(c, http.StatusUnprocessableEntity, store.Reset(h.page(c, "Reset your password", ""),
			store.ResetView{Username: u.Username, Token: f.Token, Errors: errs}))
	}
	ctx := c.Request().Context()
	hash, err := oauth.HashPasswordFor(ctx, passwordSource(c), f.Password)
	if errors.Is(err, oauth.ErrPasswordBusy) {
		return errBusy(c)
	} else if err != nil {
		return err
	}
	u, ended, err := h.store.ResetPassword(ctx, oauth.HashOf(f.Token), hash, h.now())
	if isNotFound(err) { // used or expired meanwhile
		return h.badLink(c)
	}
	if err != nil {
		return err
	}
	userKey, _ := limiterKeys(u.Username, c.RealIP())
	if err := h.logins.succeed(ctx, userKey); err != nil {
		return err
	}
	h.audit(c, portal.AuditPasswordReset, u.Username, "", fmt.Sprintf("with a reset link: %s logged out, %s of the password grant revoked",
		count(ended.Sessions, "session"), count(ended.Tokens, "token")))
	h.notifyPasswordChanged(c, u, "with a reset link")
	return h.flashTo(c, loginPath, "Your password is changed, and every session of your account is logged out. Log in with the new password.")
}

// notifyPasswordChanged mails the account's owner that its password
// changed, and how.
func (h *Handlers) notifyPasswordChanged(c echo.Context, u *portal.User, how string) {
	base := accountStore(h.storeBase(c), u)
	h.notify(u.Email, "Your apistore password was changed", fmt.Sprintf(`Hello %s,

the password of your apistore account %s at %s/store was changed
%s, on %s, from the address %s. Every other session of the account
was logged out.

If it was not you, get a new password at once at
%s/store/password/forgot and tell an administrator.
`, u.Username, u.Username, base, how, formatTime(h.now()), c.RealIP(), base))
}

// notifyEmailChanged mails an account's old address that the account now
// has another one.
func (h *Handlers) notifyEmailChanged(c echo.Context, u *portal.User, from, to string) {
	base := accountStore(h.storeBase(c), u)
	h.notify(from, "Your apistore email address was changed", fmt.Sprintf(`Hello %s,

the email address of your apistore account %s at %s/store was changed
from %s to %s on %s, from the address %s. Password reset links go to
the new address now.

If it was not you, tell an administrator at once.
`, u.Username, u.Username, base, from, to, formatTime(h.now()), c.RealIP()))
}
