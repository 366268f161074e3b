package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// auditRole may read the audit trail.
const auditRole = "admin"

// isAdmin reports whether u may read the audit trail, manage users and
// see the platform's usage: a user with the admin role, of their own
// tenant only (adminTenant).
func isAdmin(u *portal.User) bool {
	return u != nil && slices.Contains(u.Roles, auditRole)
}

// adminTenant is the tenant an administrator manages: 0 (every tenant)
// for the super tenant's, their own for another tenant's, whose users,
// audit trail and usage are all they see.
func adminTenant(u *portal.User) int64 {
	if u.TenantID <= portal.SuperTenantID {
		return 0
	}
	return u.TenantID
}

// manages reports whether administrator admin manages user u: one of their
// tenant, or any for the super tenant's. Another tenant's user is answered
// as a missing one.
func manages(admin, u *portal.User) bool {
	t := adminTenant(admin)
	return t == 0 || portal.TenantIDOf(u.TenantID) == t
}

// audit records a security event of this request. A failure to record is
// logged, not returned: the trail must not turn a working request into an
// error. Never pass a token, secret or password.
func (h *Handlers) audit(c echo.Context, event, username, client, detail string) {
	e := &portal.AuditEvent{At: h.now(), Event: event, Username: username, Client: client,
		Remote: c.RealIP(), Detail: detail, TenantID: h.viewerTenant(c)}
	if err := h.store.RecordAudit(c.Request().Context(), e); err != nil {
		slog.ErrorContext(c.Request().Context(), "audit", "event", event, "err", err)
	}
}

// maskName is how the audit trail shows a name a client typed that
// matches no account or key: often a password or secret typed in the
// wrong field, it must not be kept in clear. The mask is a keyed hash,
// the same for the same name (any case: names are case-insensitive), so
// repeated tries of one name show as such, and of no use without the
// server's key, which is not in the database. Parentheses never appear in
// a username or consumer key.
func (h *Handlers) maskName(kind, name string) string {
	mac := hmac.New(sha256.New, h.auditKey)
	mac.Write([]byte(kind + "\x00" + strings.ToLower(name)))
	return fmt.Sprintf("(unknown %s %x)", kind, mac.Sum(nil)[:6])
}

// auditUsername is a typed username as the audit trail records it: the
// account's spelling, or masked when there is no such account.
func (h *Handlers) auditUsername(c echo.Context, typed string) string {
	if typed == "" {
		return ""
	}
	if u, err := h.store.UserAccount(c.Request().Context(), typed); err == nil {
		return u.Username
	}
	return h.maskName("user", typed)
}

// auditConsumerKey is a typed consumer key as the audit trail records it:
// as it is when a key has it, masked otherwise.
func (h *Handlers) auditConsumerKey(c echo.Context, typed string) string {
	if typed == "" {
		return ""
	}
	if _, err := h.store.ClientByKey(c.Request().Context(), typed); err == nil {
		return typed
	}
	return h.maskName("key", typed)
}

// auditLockout records each lock a failed authentication just engaged: the
// username, consumer key or address that is refused for LoginLockout
// (names that match no account or key masked, see maskName).
func (h *Handlers) auditLockout(c echo.Context, locked []string) {
	for _, k := range locked {
		what, name := "username", k[2:]
		switch k[:2] {
		case "a:":
			what = "address"
		case "c:":
			what = "consumer key"
		case "s:":
			h.audit(c, portal.AuditLockout, "", "", fmt.Sprintf("address %s: sign-ups refused for %d minutes after %d sign-ups",
				name, int(LoginLockout/time.Minute), signupLimit))
			continue
		case "r:":
			h.audit(c, portal.AuditLockout, "", "", fmt.Sprintf("address %s: password reset requests refused for %d minutes after %d requests",
				name, int(LoginLockout/time.Minute), resetRequestLimit))
			continue
		}
		username, client := "", ""
		switch what {
		case "username":
			username = h.auditUsername(c, name)
			name = username
		case "consumer key":
			client = h.auditConsumerKey(c, name)
			name = client
		}
		h.audit(c, portal.AuditLockout, username, client,
			fmt.Sprintf("%s %s locked for %d minutes after %d failures", what, name, int(LoginLockout/time.Minute), limitFor(k)))
	}
}

// appAuditFields names an application for the audit trail as every event
// does: its consumer keys in the Client column (the identifier a token
// request, a log line of a client or another event shows), its name in the
// detail. Read them before the application or its keys go.
func (h *Handlers) appAuditFields(c echo.Context, appID int64, name string) (client, detail string) {
	keys, err := h.store.KeysOfApplication(c.Request().Context(), appID)
	if err != nil {
		slog.ErrorContext(c.Request().Context(), "audit", "err", err)
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ConsumerKey
	}
	return strings.Join(ids, " "), "application " + name
}

// tenantNamed finds the tenant a filter names by its domain: not found
// for text no domain can be (which some stores refuse to look up).
func (h *Handlers) tenantNamed(c echo.Context, domain string) (*portal.Tenant, error) {
	if !portal.ValidTenantDomain(strings.ToLower(domain)) {
		return nil, portal.ErrNotFound
	}
	return h.store.TenantByDomain(c.Request().Context(), domain)
}

// auditTimeLayout is how the Audit page's time filters are typed (an
// <input type=datetime-local>), in UTC.
const auditTimeLayout = "2006-01-02T15:04"

// auditFilter reads the Audit page's query: the filters, and the page to
// show (older than the event ?before names). Bad values are reported per
// field and left out of the query, never an error page.
func (h *Handlers) auditFilter(c echo.Context, tenantID int64) (store.AuditFilter, portal.AuditQuery, map[string]string, error) {
	f := store.AuditFilter{Event: c.QueryParam("event"), User: strings.TrimSpace(c.QueryParam("user")),
		Client: strings.TrimSpace(c.QueryParam("client")), Since: c.QueryParam("since"), Until: c.QueryParam("until")}
	q := portal.AuditQuery{TenantID: tenantID, Username: f.User, Client: f.Client, Limit: portal.AuditListingSize + 1}
	errs := map[string]string{}
	if tenantID == 0 {
		if f.Tenant = strings.TrimSpace(c.QueryParam("tenant")); f.Tenant != "" {
			t, err := h.tenantNamed(c, f.Tenant)
			switch {
			case isNotFound(err):
				errs["tenant"] = "There is no such tenant."
			case err != nil:
				return f, q, nil, err
			default:
				q.TenantID = t.ID
			}
		}
	}
	for _, tt := range []struct {
		field string
		value *string
	}{{"user", &q.Username}, {"client", &q.Client}} {
		if !searchable(*tt.value) {
			errs[tt.field] = "Use text only: no control characters."
			*tt.value = ""
		}
	}
	if f.Event != "" {
		if slices.Contains(portal.AuditEventNames, f.Event) {
			q.Event = f.Event
		} else {
			errs["event"] = "There is no such event."
		}
	}
	for _, tt := range []struct {
		field, value string
		into         *time.Time
	}{{"since", f.Since, &q.Since}, {"until", f.Until, &q.Until}} {
		if tt.value == "" {
			continue
		}
		at, err := time.Parse(auditTimeLayout, tt.value)
		if err != nil {
			errs[tt.field] = "Give a date and time, e.g. 2026-01-31T14:00 (UTC)."
			continue
		}
		*tt.into = at
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		errs["until"] = "Give a time after From."
		q.Until = time.Time{}
	}
	if b := c.QueryParam("before"); b != "" {
		if id, err := strconv.ParseInt(b, 10, 64); err == nil && id > 0 {
			q.BeforeID = id
		}
	}
	return f, q, errs, nil
}

// auditURL is the Audit page with filter f, older than the event before
// (0: the newest).
func auditURL(f store.AuditFilter, before int64) string {
	v := url.Values{}
	for k, val := range map[string]string{"event": f.Event, "user": f.User, "client": f.Client, "since": f.Since, "until": f.Until, "tenant": f.Tenant} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if before > 0 {
		v.Set("before", strconv.FormatInt(before, 10))
	}
	if len(v) == 0 {
		return auditPath
	}
	return auditPath + "?" + v.Encode()
}

// auditPath is the Audit page's route.
const auditPath = "/store/admin/audit"

// AuditTrail lists security events for administrators, newest first, GET
// /store/admin/audit: filtered by event, user, client and time range
// (?event, ?user, ?client, ?since, ?until), a page of AuditListingSize at
// a time (?before: older than that event). A tenant's administrators see
// their tenant's events; the super tenant's see every tenant's, and may
// filter by tenant (?tenant).
func (h *Handlers) AuditTrail(c echo.Context) error {
	me := h.CurrentUser(c)
	if !isAdmin(me) {
		return echo.NewHTTPError(http.StatusForbidden, "The audit trail is for users with the admin role.")
	}
	f, q, errs, err := h.auditFilter(c, adminTenant(me))
	if err != nil {
		return err
	}
	events, err := h.store.AuditEvents(c.Request().Context(), q)
	if err != nil {
		return err
	}
	v := store.AuditView{Filter: f, Errors: errs, Events: portal.AuditEventNames, AllTenants: adminTenant(me) == 0}
	if len(events) > portal.AuditListingSize {
		events = events[:portal.AuditListingSize]
		v.OlderURL = templ.SafeURL(tenantPath(c, auditURL(f, events[len(events)-1].ID)))
	}
	if q.BeforeID > 0 {
		v.NewestURL = templ.SafeURL(tenantPath(c, auditURL(f, 0)))
	}
	v.Rows = make([]store.AuditRow, len(events))
	for i, e := range events {
		v.Rows[i] = store.AuditRow{At: formatTime(e.At), Event: e.Event, Username: e.Username,
			Client: e.Client, Remote: e.Remote, Detail: e.Detail, Tenant: e.Tenant}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	return render(c, status, store.Audit(h.page(c, "Audit trail", layout.NavAudit), v))
}
