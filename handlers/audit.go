package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// auditRole may read the audit trail.
const auditRole = "admin"

// isAdmin reports whether u may read the audit trail.
func isAdmin(u *portal.User) bool { return u != nil && slices.Contains(u.Roles, auditRole) }

// audit records a security event of this request. A failure to record is
// logged, not returned: the trail must not turn a working request into an
// error. Never pass a token, secret or password.
func (h *Handlers) audit(c echo.Context, event, username, client, detail string) {
	e := &portal.AuditEvent{At: h.now(), Event: event, Username: username, Client: client,
		Remote: c.RealIP(), Detail: detail}
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

// AuditTrail lists the latest security events for administrators, GET
// /store/admin/audit.
func (h *Handlers) AuditTrail(c echo.Context) error {
	if !isAdmin(h.CurrentUser(c)) {
		return echo.NewHTTPError(http.StatusForbidden, "The audit trail is for users with the admin role.")
	}
	events, err := h.store.AuditEvents(c.Request().Context(), 0)
	if err != nil {
		return err
	}
	rows := make([]store.AuditRow, len(events))
	for i, e := range events {
		rows[i] = store.AuditRow{At: formatTime(e.At), Event: e.Event, Username: e.Username,
			Client: e.Client, Remote: e.Remote, Detail: e.Detail}
	}
	return render(c, http.StatusOK, store.Audit(h.page(c, "Audit trail", layout.NavAudit), rows))
}
