package portal

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Audit event names, as stored and shown to administrators.
const (
	AuditLoginFailed        = "login_failed"
	AuditClientAuthFailed   = "client_auth_failed"
	AuditKeysGenerated      = "keys_generated"
	AuditSecretRegenerated  = "secret_regenerated"
	AuditAppTokensRevoked   = "app_tokens_revoked"
	AuditTokenRevoked       = "token_revoked"
	AuditConsentGranted     = "consent_granted"
	AuditConsentRevoked     = "consent_revoked"
	AuditApplicationDeleted = "application_deleted"
	AuditGrantReplayed      = "grant_replayed"
	AuditLogin              = "login"
	AuditLockout            = "lockout"
	AuditSignup             = "signup"
	AuditKeyUpdated         = "key_updated"
	AuditApplicationCreated = "application_created"
	AuditApplicationUpdated = "application_updated"
	AuditSubscribed         = "subscribed"
	AuditUnsubscribed       = "unsubscribed"
	AuditAPIChanged         = "api_changed"
	AuditUserCreated        = "user_created"
	AuditUserDeleted        = "user_deleted"
	AuditScopeChanged       = "scope_changed"
	AuditTierChanged        = "tier_changed"
	AuditConsoleToken       = "console_token"
)

// Audit event names of accounts: what users do to their own, and
// administrators to anyone's.
const (
	AuditSessionEnded       = "session_ended"
	AuditPasswordChanged    = "password_changed"
	AuditEmailChanged       = "email_changed"
	AuditPasswordResetAsked = "password_reset_asked"
	AuditPasswordReset      = "password_reset"
	AuditResetLinkMade      = "reset_link_made"
	AuditUserDisabled       = "user_disabled"
	AuditUserEnabled        = "user_enabled"
	AuditLockoutCleared     = "lockout_cleared"
	AuditUserStoreAdded     = "userstore_added"
	AuditTenantCreated      = "tenant_created"
	AuditTenantDeactivated  = "tenant_deactivated"
	AuditTenantActivated    = "tenant_activated"
)

// AuditListingSize is how many events a listing shows when not told.
const AuditListingSize = 200

// AuditEventNames lists every event name, for the Audit page's filter.
var AuditEventNames = []string{
	AuditLogin, AuditLoginFailed, AuditLockout, AuditLockoutCleared, AuditSignup, AuditClientAuthFailed,
	AuditSessionEnded, AuditPasswordChanged, AuditEmailChanged, AuditPasswordResetAsked, AuditPasswordReset,
	AuditResetLinkMade, AuditUserCreated, AuditUserDeleted, AuditUserDisabled, AuditUserEnabled,
	AuditApplicationCreated, AuditApplicationUpdated, AuditApplicationDeleted, AuditKeysGenerated, AuditKeyUpdated,
	AuditSecretRegenerated, AuditAppTokensRevoked, AuditTokenRevoked, AuditGrantReplayed,
	AuditConsentGranted, AuditConsentRevoked, AuditSubscribed, AuditUnsubscribed, AuditAPIChanged, AuditScopeChanged,
	AuditConsoleToken, AuditUserStoreAdded, AuditTenantCreated, AuditTenantDeactivated, AuditTenantActivated,
	AuditTierChanged,
}

// AuditQuery picks events from the trail: each field set narrows it (text
// fields match exactly, the username in any case), newest first.
type AuditQuery struct {
	TenantID int64 // one tenant's trail; 0: every tenant's
	Event    string
	Username string
	Client   string
	Since    time.Time // at or after; zero: no bound
	Until    time.Time // before; zero: no bound
	BeforeID int64     // only events older than this one (paging); 0: the newest
	Limit    int       // <= 0: AuditListingSize
}

// Size is how many events q asks for.
func (q AuditQuery) Size() int {
	if q.Limit <= 0 {
		return AuditListingSize
	}
	return q.Limit
}

// Bounds are q's time range in Unix milliseconds, 0 for none.
func (q AuditQuery) Bounds() (since, until int64) {
	if !q.Since.IsZero() {
		since = q.Since.UnixMilli()
	}
	if !q.Until.IsZero() {
		until = q.Until.UnixMilli()
	}
	return since, until
}

// auditMaxFieldLen bounds each text field of a stored event.
const auditMaxFieldLen = 200

// AuditEvent is one security event of the audit trail.
type AuditEvent struct {
	ID       int64
	At       time.Time
	Event    string
	Username string // who acted or was named (a failed log-in's typed name)
	Client   string // consumer key(s); an application is named in Detail
	Remote   string // client address
	Detail   string
	// TenantID is the tenant of the event when neither its username nor
	// its client names one (whoever acted: the logged-in user's tenant,
	// or the store's a failed log-in was typed into); 0 is the super
	// tenant. The tenant of the user named, else of the application whose
	// key is named, comes first: an event about a tenant's user or
	// application is in that tenant's trail. Listed events carry the
	// tenant they were recorded with.
	TenantID int64
	Tenant   string // listed events: the tenant's domain
}

// Clipped returns the event as stores keep it: each text field valid UTF-8
// without NUL bytes (a typed username can hold anything, and PostgreSQL's
// text refuses both), cut to a bounded length on a character boundary, so
// that a flood of made-up names cannot grow rows without bound.
func (e AuditEvent) Clipped() AuditEvent {
	cut := func(s string) string {
		s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
		if len(s) <= auditMaxFieldLen {
			return s
		}
		n := auditMaxFieldLen
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n]
	}
	e.Username, e.Client, e.Remote, e.Detail = cut(e.Username), cut(e.Client), cut(e.Remote), cut(e.Detail)
	return e
}

// ClientKey is the first consumer key the event's Client names, which
// says whose application it is ("" for none).
func (e AuditEvent) ClientKey() string {
	if f := strings.Fields(e.Client); len(f) > 0 {
		return f[0]
	}
	return ""
}
