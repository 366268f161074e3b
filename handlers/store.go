package handlers

import (
	"context"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// What the handlers need of storage, by capability. Both stores (db/sqlite
// and db/postgres) provide all of it.

// Accounts finds, makes and changes users.
type Accounts interface {
	CreateUser(ctx context.Context, u *portal.User) error
	UserAccount(ctx context.Context, username string) (*portal.User, error)
	ChangePassword(ctx context.Context, userID int64, passwordHash string, keep oauth.Hash, endAccess bool) (portal.Ended, error)
	SetEmail(ctx context.Context, userID int64, email string) error
	DeleteUser(ctx context.Context, username string) error
	CountUsersWithRole(ctx context.Context, tenantID int64, role string) (int, error)
	UsersByEmail(ctx context.Context, email string) ([]portal.User, error)
	CreatePasswordReset(ctx context.Context, token oauth.Hash, userID int64, now, expires time.Time) error
	PasswordResetUser(ctx context.Context, token oauth.Hash, now time.Time) (*portal.User, error)
	ResetPassword(ctx context.Context, token oauth.Hash, passwordHash string, now time.Time) (*portal.User, portal.Ended, error)
	DisableUser(ctx context.Context, username string, at time.Time) (*portal.User, portal.Ended, error)
	EnableUser(ctx context.Context, username string) (*portal.User, error)
	ListUsers(ctx context.Context, tenantID int64, filter string, limit int) ([]portal.User, error)
	TenantByDomain(ctx context.Context, domain string) (*portal.Tenant, error)
}

// Sessions keeps the store's log-in sessions by the hash of their ids.
type Sessions interface {
	StartSession(ctx context.Context, s portal.Session) error
	LiveSession(ctx context.Context, id oauth.Hash, now time.Time) (*portal.Session, *portal.User, error)
	TouchSession(ctx context.Context, id oauth.Hash, at time.Time, address string) error
	DeleteSession(ctx context.Context, id oauth.Hash) error
	UserSessions(ctx context.Context, userID int64, now time.Time) ([]portal.Session, error)
	EndSession(ctx context.Context, userID int64, id oauth.Hash) error
	EndOtherSessions(ctx context.Context, userID int64, keep oauth.Hash) (int64, error)
}

// LoginCounters keeps the brute-force counters that every node shares (see
// loginLimiter).
type LoginCounters interface {
	LoginCounts(ctx context.Context, keys []string, now time.Time) ([]portal.LoginCount, error)
	ReserveLogin(ctx context.Context, keys []string, now, expires time.Time, admit func([]portal.LoginCount) bool) (int64, []portal.LoginCount, error)
	SettleLogin(ctx context.Context, id int64, failed []string, now, resetBefore time.Time) ([]portal.LoginCount, error)
	ClearLoginFailures(ctx context.Context, key string) error
	RecentLoginCounts(ctx context.Context, since time.Time, limit int) ([]portal.LoginCount, error)
}

// Applications keeps a developer's applications and their keys.
type Applications interface {
	CreateApplication(ctx context.Context, a *portal.Application) error
	ApplicationsByOwner(ctx context.Context, ownerID int64) ([]portal.Application, error)
	OwnedApplication(ctx context.Context, ownerID, id int64) (*portal.Application, error)
	UpdateApplication(ctx context.Context, a *portal.Application) error
	DeleteApplication(ctx context.Context, ownerID, id int64) error
	// SetApplicationDPoP sets whether the application's keys get tokens
	// only with a DPoP proof (RFC 9449).
	SetApplicationDPoP(ctx context.Context, ownerID, id int64, required bool) error
	// SetApplicationTLSAuth sets how the application's keys authenticate:
	// a TLS client certificate (RFC 8705 §2), or the zero TLSAuth, their
	// secrets.
	SetApplicationTLSAuth(ctx context.Context, appID int64, a oauth.TLSAuth) error

	CreateKey(ctx context.Context, c *oauth.Client) error
	ClientByKey(ctx context.Context, consumerKey string) (*oauth.Client, error)
	KeysOfApplication(ctx context.Context, appID int64) ([]portal.Key, error)
	ReplaceSecret(ctx context.Context, keyID int64, secret oauth.Hash) error
	RevokeApplicationTokens(ctx context.Context, keyID int64) error
	UpdateKeySettings(ctx context.Context, keyID int64, grantTypes []string, callbackURL string, appTokenValidity time.Duration) error
}

// Catalog is the published APIs, their scopes and subscriptions to them.
type Catalog interface {
	PublishedAPIs(ctx context.Context) ([]portal.API, error)
	SearchAPIs(ctx context.Context, q portal.SearchQuery) (portal.SearchPage, error)
	PublishedTags(ctx context.Context, tenant int64, limit int) ([]portal.TagCount, error)
	AllAPIs(ctx context.Context) ([]portal.API, error)
	APIByID(ctx context.Context, id int64) (*portal.API, error)
	ImportAPI(ctx context.Context, a *portal.API, scopes []oauth.Scope) error
	UpdateAPI(ctx context.Context, a *portal.API, scopes []oauth.Scope) error
	SetAPIStatus(ctx context.Context, id int64, status string) error
	Scopes(ctx context.Context, tenant string) ([]oauth.Scope, error)
	// PutScope creates or replaces a scope of the tenant (a domain).
	PutScope(ctx context.Context, tenant string, s oauth.Scope) error
	ScopesByName(ctx context.Context, tenant string, names []string) ([]oauth.Scope, error)
	// Tiers lists the tiers the tenant set (portal.TenantTiers adds the
	// default ones).
	Tiers(ctx context.Context, tenantID int64) ([]portal.Tier, error)
	// PutTier sets a tier of t.TenantID (its own, or a default tier's
	// limit for it).
	PutTier(ctx context.Context, t portal.Tier) error
	// DeleteTier removes a tier the tenant set: ErrNotFound when it set
	// none of the name, ErrConflict for its own tier while in use.
	DeleteTier(ctx context.Context, tenantID int64, name string) error

	Subscribe(ctx context.Context, appID, apiID int64, tier string) error
	Unsubscribe(ctx context.Context, appID, apiID int64) error
	SubscriptionsOfApplication(ctx context.Context, appID int64) ([]portal.Subscription, error)
	SubscriptionsToAPI(ctx context.Context, ownerID, apiID int64) ([]portal.Subscription, error)
	SubscriptionsOfAPI(ctx context.Context, apiID int64) ([]portal.Subscription, error)
}

// Documentation keeps the documentation pages publishers write for APIs.
type Documentation interface {
	CreateDoc(ctx context.Context, doc *portal.Doc) error
	UpdateDoc(ctx context.Context, doc *portal.Doc) error
	DeleteDoc(ctx context.Context, apiID, id int64) error
	DocOfAPI(ctx context.Context, apiID, id int64) (*portal.Doc, error)
	DocsOfAPI(ctx context.Context, apiID int64) ([]portal.Doc, error)
}

// Consents keeps users' approvals of applications at the consent page.
type Consents interface {
	SaveConsent(ctx context.Context, c *portal.Consent) error
	RememberedScopes(ctx context.Context, userID, appID int64) ([]string, error)
	Consents(ctx context.Context, userID int64) ([]portal.Consent, error)
	RevokeConsent(ctx context.Context, userID, appID int64) error
}

// AuditTrail keeps security events.
type AuditTrail interface {
	RecordAudit(ctx context.Context, e *portal.AuditEvent) error
	AuditEvents(ctx context.Context, q portal.AuditQuery) ([]portal.AuditEvent, error)
}

// Pinger answers the readiness probe.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Store is all of the above.
type Store interface {
	Accounts
	Sessions
	LoginCounters
	Applications
	Catalog
	Documentation
	Consents
	AuditTrail
	Pinger
	Usage
}
