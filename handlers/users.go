package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// usersPath is the administrators' Users page.
const usersPath = "/store/admin/users"

// usersListed is how many users the Users page shows at once; a filter
// finds the others.
const usersListed = 200

// RequireAdmin refuses the administrators' pages to anyone without the
// admin role. A tenant's administrators see and act on their tenant's
// users, events and usage only (adminTenant).
func (h *Handlers) RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !isAdmin(h.CurrentUser(c)) {
			return echo.NewHTTPError(http.StatusForbidden, "This page is for users with the admin role.")
		}
		return next(c)
	}
}

// Users lists the accounts for administrators, with their status and the
// lockouts under way, GET /store/admin/users?q=…
func (h *Handlers) Users(c echo.Context) error {
	ctx, now := c.Request().Context(), h.now()
	filter := strings.TrimSpace(c.QueryParam("q"))
	me := h.CurrentUser(c)
	var list []portal.User
	if searchable(filter) {
		var err error
		if list, err = h.store.ListUsers(ctx, adminTenant(me), filter, usersListed+1); err != nil {
			return err
		}
	}
	v := store.UsersView{Filter: filter, More: len(list) > usersListed}
	list = list[:min(len(list), usersListed)]
	keys := make([]string, len(list))
	for i, u := range list {
		keys[i], _ = limiterKeys(u.Username, "")
	}
	counts, err := h.store.LoginCounts(ctx, keys, now)
	if err != nil {
		return err
	}
	for i, u := range list {
		row := store.UserRow{Username: u.Username, Email: u.Email, Roles: strings.Join(u.Roles, ", "),
			MemberSince: formatDay(u.CreatedAt), Disabled: u.Disabled, Self: u.ID == me.ID, Status: "Active"}
		if u.Disabled {
			row.Status = "Disabled since " + formatTime(u.DisabledAt)
		}
		if i < len(counts) {
			if wait := lockedFor(counts[i:i+1], now); wait > 0 {
				row.Locked, row.LockRef = true, h.lockoutRef(keys[i])
				row.Status += fmt.Sprintf(", locked out until %s after %s", formatTime(now.Add(wait)), count(int64(counts[i].Failures), "failed log-in"))
				row.WhyURL = templ.SafeURL(auditURL(store.AuditFilter{User: u.Username, Since: now.Add(-2 * LoginLockout).UTC().Format(auditTimeLayout)}, 0))
			}
		}
		v.Users = append(v.Users, row)
	}
	if v.Lockouts, err = h.lockouts(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, store.Users(h.page(c, "Users", layout.NavUsers), v))
}

// formatDay is a date as the Users page shows it.
func formatDay(t time.Time) string { return t.UTC().Format("2006-01-02") }

// lockedCounters are the brute-force counters that refuse something now
// that the administrator manages: a tenant's administrators, those of
// their tenant's usernames and consumer keys (not an address's, which
// every tenant shares).
func (h *Handlers) lockedCounters(c echo.Context) ([]portal.LoginCount, error) {
	now := h.now()
	recent, err := h.store.RecentLoginCounts(c.Request().Context(), now.Add(-LoginLockout), 500)
	if err != nil {
		return nil, err
	}
	var out []portal.LoginCount
	for _, k := range recent {
		if len(k.Key) > 2 && lockedFor([]portal.LoginCount{k}, now) > 0 {
			ours, err := h.managesCounter(c, k.Key)
			if err != nil {
				return nil, err
			}
			if ours {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// managesCounter reports whether the administrator of the request manages
// a brute-force counter: the super tenant's all; another tenant's, those
// of its users' names and its applications' keys.
func (h *Handlers) managesCounter(c echo.Context, key string) (bool, error) {
	me := h.CurrentUser(c)
	if adminTenant(me) == 0 {
		return true, nil
	}
	ctx, name := c.Request().Context(), key[2:]
	switch key[:2] {
	case "u:", "m:":
		u, err := h.store.UserAccount(ctx, name)
		if isNotFound(err) {
			return false, nil
		}
		return err == nil && manages(me, u), err
	case "c:":
		k, err := h.store.ClientByKey(ctx, name)
		if isNotFound(err) {
			return false, nil
		}
		return err == nil && strings.EqualFold(k.Tenant, me.Tenant), err
	}
	return false, nil
}

// lockouts describes the lockouts under way for the Users page: names that
// match no account or key are masked, as in the audit trail, since they
// are often passwords typed in the wrong field.
func (h *Handlers) lockouts(c echo.Context) ([]store.LockoutRow, error) {
	locked, err := h.lockedCounters(c)
	if err != nil {
		return nil, err
	}
	rows := make([]store.LockoutRow, len(locked))
	for i, k := range locked {
		what, name := h.describeCounter(c, k.Key)
		rows[i] = store.LockoutRow{What: what, Name: name, Failures: k.Failures,
			Until: formatTime(k.Last.Add(LoginLockout)), Ref: h.lockoutRef(k.Key)}
	}
	return rows, nil
}

// describeCounter says what a counter counts and whose it is.
func (h *Handlers) describeCounter(c echo.Context, key string) (what, name string) {
	name = key[2:]
	switch key[:2] {
	case "u:":
		return "Log-ins of the username", h.auditUsername(c, name)
	case "a:":
		return "Log-ins from the address", name
	case "c:":
		return "Authentications of the consumer key", h.auditConsumerKey(c, name)
	case "s:":
		return "Sign-ups from the address", name
	case "r:":
		return "Password resets asked from the address", name
	case "m:":
		return "Reset links mailed to the account", h.auditUsername(c, name)
	}
	return "Counter", h.maskName("counter", key)
}

// lockoutRef names a counter in the Users page's forms without showing its
// key, which may hold a password typed as a username: a keyed hash, which
// Unlock matches against the counters locked now.
func (h *Handlers) lockoutRef(key string) string {
	mac := hmac.New(sha256.New, h.auditKey)
	mac.Write([]byte("lockout\x00" + key))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// unlockForm names a lockout of the Users page.
type unlockForm struct {
	Ref    string `form:"ref" validate:"required,len=32,hexadecimal"`
	Filter string `form:"q"`
}

// Unlock ends a lockout, POST /store/admin/users/unlock: the counter's
// failures are forgotten, so log-ins (sign-ups, resets…) are allowed again
// at once, on every node.
func (h *Handlers) Unlock(c echo.Context) error {
	var f unlockForm
	problems, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	if problems != nil {
		return errNoLockout
	}
	locked, err := h.lockedCounters(c)
	if err != nil {
		return err
	}
	for _, k := range locked {
		if !hmac.Equal([]byte(h.lockoutRef(k.Key)), []byte(f.Ref)) {
			continue
		}
		if err := h.store.ClearLoginFailures(c.Request().Context(), k.Key); err != nil {
			return err
		}
		what, name := h.describeCounter(c, k.Key)
		username := ""
		if k.Key[:2] == "u:" {
			username = name
		}
		h.audit(c, portal.AuditLockoutCleared, username, "", fmt.Sprintf("on the Users page: %s %s, after %d failures",
			strings.ToLower(what), name, k.Failures))
		return h.flashTo(c, usersURL(f.Filter), fmt.Sprintf("Unlocked: %s %s.", strings.ToLower(what), name))
	}
	return errNoLockout
}

// errNoLockout answers an Unlock of a lockout that ended meanwhile.
var errNoLockout = echo.NewHTTPError(http.StatusNotFound, "This lockout has ended already. Reload the Users page to see those under way.")

// usersURL is the Users page with its filter.
func usersURL(filter string) string {
	if filter == "" {
		return usersPath
	}
	return usersPath + "?q=" + url.QueryEscape(filter)
}

// userForm names an account on the Users page.
type userForm struct {
	Username string `form:"username" validate:"required,max=64"`
	Filter   string `form:"q"`
}

// errNoSuchUser answers for an account that is not there (any more).
var errNoSuchUser = echo.NewHTTPError(http.StatusNotFound, "There is no such user. Reload the Users page.")

// errDisableSelf answers an administrator disabling their own account.
var errDisableSelf = echo.NewHTTPError(http.StatusConflict,
	"You cannot disable your own account: no one might be left to enable it. Ask another administrator.")

// managedUser finds the account an administrator's page names: as not
// found when it is another tenant's than the administrator's.
func (h *Handlers) managedUser(c echo.Context, username string) (*portal.User, error) {
	u, err := h.store.UserAccount(c.Request().Context(), username)
	if isNotFound(err) || (err == nil && !manages(h.CurrentUser(c), u)) {
		return nil, errNoSuchUser
	}
	return u, err
}

// ConfirmDisableUser asks before DisableUser, GET
// /store/admin/users/disable?username=…, naming what stops working.
func (h *Handlers) ConfirmDisableUser(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := h.managedUser(c, c.QueryParam("username"))
	if err != nil {
		return err
	}
	if u.ID == h.CurrentUser(c).ID {
		return errDisableSelf
	}
	apps, err := h.store.ApplicationsByOwner(ctx, u.ID)
	if err != nil {
		return err
	}
	v := store.DisableUserView{Username: u.Username, Disabled: u.Disabled, Filter: c.QueryParam("q")}
	for _, a := range apps {
		v.Applications = append(v.Applications, a.Name)
	}
	return render(c, http.StatusOK, store.DisableUser(h.page(c, "Disable "+u.Username, layout.NavUsers), v))
}

// DisableUser disables an account, POST /store/admin/users/disable: the
// user is logged out everywhere, cannot log in nor get tokens, and every
// token issued for the user or to the user's applications is refused at
// once, on every node.
func (h *Handlers) DisableUser(c echo.Context) error {
	var f userForm
	problems, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	if problems != nil {
		return errNoSuchUser
	}
	if strings.EqualFold(f.Username, h.CurrentUser(c).Username) {
		return errDisableSelf
	}
	target, err := h.managedUser(c, f.Username)
	if err != nil {
		return err
	}
	u, ended, err := h.store.DisableUser(c.Request().Context(), target.Username, h.now())
	if isNotFound(err) {
		return errNoSuchUser
	} else if err != nil {
		return err
	}
	h.audit(c, portal.AuditUserDisabled, u.Username, "", fmt.Sprintf("on the Users page: %s logged out, %s revoked",
		count(ended.Sessions, "session"), count(ended.Tokens, "token")))
	return h.flashTo(c, usersURL(f.Filter), fmt.Sprintf("%s is disabled: %s logged out, %s revoked.", u.Username,
		count(ended.Sessions, "session"), count(ended.Tokens, "token")))
}

// EnableUser enables a disabled account, POST /store/admin/users/enable:
// the user may log in and get tokens again (those ended stay ended).
func (h *Handlers) EnableUser(c echo.Context) error {
	var f userForm
	problems, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	if problems != nil {
		return errNoSuchUser
	}
	target, err := h.managedUser(c, f.Username)
	if err != nil {
		return err
	}
	u, err := h.store.EnableUser(c.Request().Context(), target.Username)
	if isNotFound(err) {
		return errNoSuchUser
	} else if err != nil {
		return err
	}
	h.audit(c, portal.AuditUserEnabled, u.Username, "", "on the Users page")
	return h.flashTo(c, usersURL(f.Filter), u.Username+" is enabled: they can log in again.")
}
