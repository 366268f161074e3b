// Package db opens apistore's store: SQLite (package db/sqlite, the
// embedded default) or PostgreSQL (package db/postgres, for clusters of
// nodes sharing one database). Both implement Store and pass the
// conformance suite in db/dbtest; Open picks one from a URL and puts the
// validation cache (cache.go) in front of it.
package db

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apistore/apistore/db/postgres"
	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// Freshness proves that cached reads are current. Generation changes
// whenever a change that a cache of validations could hold (a revoked
// token, a deleted key, application, user or subscription, a retired API,
// a changed scope…) is committed, by any connection, process or node; a
// read that starts after such a commit returned sees the new value. It is
// an error, never a stale value, when the store cannot tell.
type Freshness interface {
	Generation(ctx context.Context) (uint64, error)
}

// Store is everything apistore keeps: what the oauth core, the handlers,
// the gateway and the admin commands each declare they need.
type Store interface {
	oauth.Store
	Freshness

	// Close ends every connection; writes asked for afterwards fail.
	Close() error
	// Ping checks that the database answers a query.
	Ping(ctx context.Context) error
	// Location names the database: a file's path, or a PostgreSQL URL
	// without its password.
	Location() string
	// PartitionTokens makes the token partitioning ps (none: off), moving
	// the tokens to their partitions' tables; see oauth.Partition.
	PartitionTokens(ctx context.Context, ps []oauth.Partition) error
	// Failed delivers the error that stops the node from serving on: on
	// PostgreSQL, a token partitioning that another node changed while
	// this one's hold on it (PartitionTokens) was lost. SQLite's never
	// delivers: one process serves a file.
	Failed() <-chan error

	CreateUser(ctx context.Context, u *portal.User) error
	UserAccount(ctx context.Context, username string) (*portal.User, error)
	UserByID(ctx context.Context, id int64) (*portal.User, error)
	DeleteUser(ctx context.Context, username string) error

	CreateTenant(ctx context.Context, t *portal.Tenant, admin *portal.User) error
	// SeedTenants adds tenants in bulk, portal.SeedBatch per transaction.
	SeedTenants(ctx context.Context, seeds []portal.TenantSeed) error
	Tenants(ctx context.Context) ([]portal.Tenant, error)
	TenantByDomain(ctx context.Context, domain string) (*portal.Tenant, error)
	SetTenantActive(ctx context.Context, domain string, active bool) error

	CreateSession(ctx context.Context, id oauth.Hash, userID int64, now, expires time.Time) error
	SessionUser(ctx context.Context, id oauth.Hash, now time.Time) (*portal.User, error)
	DeleteSession(ctx context.Context, id oauth.Hash) error
	SessionKeys(ctx context.Context, candidate []byte) ([]byte, error)
	oauth.SigningKeyStore

	LoginCounts(ctx context.Context, keys []string, now time.Time) ([]portal.LoginCount, error)
	ReserveLogin(ctx context.Context, keys []string, now, expires time.Time, admit func([]portal.LoginCount) bool) (int64, []portal.LoginCount, error)
	SettleLogin(ctx context.Context, id int64, failed []string, now, resetBefore time.Time) ([]portal.LoginCount, error)
	ClearLoginFailures(ctx context.Context, key string) error
	DeleteStaleLoginCounts(ctx context.Context, before, now time.Time) (int64, error)

	CreateApplication(ctx context.Context, a *portal.Application) error
	CreateApplicationWithKeys(ctx context.Context, a *portal.Application, newKey func(oauth.KeyType) *oauth.Client) error
	ApplicationsByOwner(ctx context.Context, ownerID int64) ([]portal.Application, error)
	OwnedApplication(ctx context.Context, ownerID, id int64) (*portal.Application, error)
	UpdateApplication(ctx context.Context, a *portal.Application) error
	DeleteApplication(ctx context.Context, ownerID, id int64) error
	SetApplicationTLSAuth(ctx context.Context, appID int64, a oauth.TLSAuth) error

	CreateKey(ctx context.Context, c *oauth.Client) error
	KeysOfApplication(ctx context.Context, appID int64) ([]portal.Key, error)
	ReplaceSecret(ctx context.Context, keyID int64, secret oauth.Hash) error
	RevokeApplicationTokens(ctx context.Context, keyID int64) error
	UpdateKeySettings(ctx context.Context, keyID int64, grantTypes []string, callbackURL string, appTokenValidity time.Duration) error

	// PutTier sets a tier of t.TenantID (its own, or a default tier's
	// limit for it); an unknown tenant is ErrNotFound.
	PutTier(ctx context.Context, t portal.Tier) error
	// DeleteTier removes a tier the tenant set: ErrNotFound when it set
	// none of the name, ErrConflict for its own tier while in use.
	DeleteTier(ctx context.Context, tenantID int64, name string) error
	// Tiers lists the tiers the tenant set, by name.
	Tiers(ctx context.Context, tenantID int64) ([]portal.Tier, error)
	// CustomTiers lists the tiers every tenant set.
	CustomTiers(ctx context.Context) ([]portal.Tier, error)

	// PutScope creates or replaces a scope of the tenant (a domain; "" the
	// super tenant's); an unknown tenant is ErrNotFound.
	PutScope(ctx context.Context, tenant string, s oauth.Scope) error
	// Scopes lists the tenant's scopes by name.
	Scopes(ctx context.Context, tenant string) ([]oauth.Scope, error)

	CreateAPI(ctx context.Context, a *portal.API) error
	ImportAPI(ctx context.Context, a *portal.API, scopes []oauth.Scope) error
	UpdateAPI(ctx context.Context, a *portal.API, scopes []oauth.Scope) error
	SetAPIStatus(ctx context.Context, id int64, status string) error
	PublishedAPIs(ctx context.Context) ([]portal.API, error)
	AllAPIs(ctx context.Context) ([]portal.API, error)
	APIByID(ctx context.Context, id int64) (*portal.API, error)
	APIByContext(ctx context.Context, apiContext, version string) (*portal.API, error)
	SeedSample(ctx context.Context) error
	SearchAPIs(ctx context.Context, q portal.SearchQuery) (portal.SearchPage, error)
	PublishedTags(ctx context.Context, tenant int64, limit int) ([]portal.TagCount, error)

	CreateDoc(ctx context.Context, doc *portal.Doc) error
	UpdateDoc(ctx context.Context, doc *portal.Doc) error
	DeleteDoc(ctx context.Context, apiID, id int64) error
	DocOfAPI(ctx context.Context, apiID, id int64) (*portal.Doc, error)
	DocsOfAPI(ctx context.Context, apiID int64) ([]portal.Doc, error)
	PointSampleAPI(ctx context.Context, url string) error

	Subscribe(ctx context.Context, appID, apiID int64, tier string) error
	Unsubscribe(ctx context.Context, appID, apiID int64) error
	SubscriptionTier(ctx context.Context, appID, apiID int64) (id int64, tier string, err error)
	SubscriptionsOfApplication(ctx context.Context, appID int64) ([]portal.Subscription, error)
	SubscriptionsToAPI(ctx context.Context, ownerID, apiID int64) ([]portal.Subscription, error)
	SubscriptionsOfAPI(ctx context.Context, apiID int64) ([]portal.Subscription, error)
	TakeQuota(ctx context.Context, k portal.QuotaKey, window time.Time, want, limit int) (int, error)
	DeleteQuotasBefore(ctx context.Context, before time.Time) (int64, error)

	SaveConsent(ctx context.Context, c *portal.Consent) error
	RememberedScopes(ctx context.Context, userID, appID int64) ([]string, error)
	Consents(ctx context.Context, userID int64) ([]portal.Consent, error)
	RevokeConsent(ctx context.Context, userID, appID int64) error

	RecordUsage(ctx context.Context, calls []portal.Usage) error
	UsageOf(ctx context.Context, appID int64, limit int) ([]portal.Usage, error)
	DeleteUsageBefore(ctx context.Context, before time.Time) (int64, error)
	DeleteRollupsBefore(ctx context.Context, span time.Duration, before time.Time) (int64, error)
	UsageCalls(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error)
	UsageCallsByAPI(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error)
	UsageCallsByKind(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error)
	UsageResources(ctx context.Context, q portal.UsageQuery, limit int) ([]portal.ResourceCount, error)
	UsageLatencies(ctx context.Context, q portal.UsageQuery) ([]portal.LatencyCount, error)
	UsageApps(ctx context.Context, q portal.UsageQuery) ([]portal.AppCount, error)
	UsageTopApps(ctx context.Context, q portal.UsageQuery, limit int) ([]portal.AppCount, error)
	AuditCounts(ctx context.Context, tenantID int64, span time.Duration, from, to time.Time) ([]portal.EventCount, error)
	TokenCounts(ctx context.Context, span time.Duration, from, to, now time.Time) ([]portal.EventCount, int64, error)

	RecordAudit(ctx context.Context, e *portal.AuditEvent) error
	AuditEvents(ctx context.Context, q portal.AuditQuery) ([]portal.AuditEvent, error)
	DeleteAuditBefore(ctx context.Context, before time.Time) (int64, error)

	CreateTokens(ctx context.Context, tokens []*oauth.Token) error
	DeleteStaleTokens(ctx context.Context, now time.Time) (int64, error)
	DeleteStaleKeptAnswers(ctx context.Context, now time.Time) (int64, error)
	DeleteStaleCodes(ctx context.Context, now time.Time) (int64, error)

	// DPoP (RFC 9449): the proofs accepted, shared by every node, and
	// whether an application requires proofs.
	oauth.ProofStore
	DeleteStaleProofs(ctx context.Context, now time.Time) (int64, error)
	SetApplicationDPoP(ctx context.Context, ownerID, id int64, required bool) error

	// RunAlone runs fn unless another process or node is running the job
	// of that name (cleanup and retention jobs run on one node at a time);
	// it reports whether fn ran.
	RunAlone(ctx context.Context, job string, fn func(context.Context) error) (bool, error)

	// Accounts: what users do to their own account (My account) and
	// administrators to accounts; see handlers.Accounts and
	// handlers.Sessions.
	StartSession(ctx context.Context, s portal.Session) error
	LiveSession(ctx context.Context, id oauth.Hash, now time.Time) (*portal.Session, *portal.User, error)
	TouchSession(ctx context.Context, id oauth.Hash, at time.Time, address string) error
	UserSessions(ctx context.Context, userID int64, now time.Time) ([]portal.Session, error)
	EndSession(ctx context.Context, userID int64, id oauth.Hash) error
	EndOtherSessions(ctx context.Context, userID int64, keep oauth.Hash) (int64, error)
	ChangePassword(ctx context.Context, userID int64, passwordHash string, keep oauth.Hash, endAccess bool) (portal.Ended, error)
	SetEmail(ctx context.Context, userID int64, email string) error
	CountUsersWithRole(ctx context.Context, tenantID int64, role string) (int, error)
	UsersByEmail(ctx context.Context, email string) ([]portal.User, error)
	CreatePasswordReset(ctx context.Context, token oauth.Hash, userID int64, now, expires time.Time) error
	PasswordResetUser(ctx context.Context, token oauth.Hash, now time.Time) (*portal.User, error)
	ResetPassword(ctx context.Context, token oauth.Hash, passwordHash string, now time.Time) (*portal.User, portal.Ended, error)
	DisableUser(ctx context.Context, username string, at time.Time) (*portal.User, portal.Ended, error)
	EnableUser(ctx context.Context, username string) (*portal.User, error)
	ListUsers(ctx context.Context, tenantID int64, filter string, limit int) ([]portal.User, error)
	RecentLoginCounts(ctx context.Context, since time.Time, limit int) ([]portal.LoginCount, error)

	// User stores: the secondary (LDAP) user stores and the local accounts
	// of their users; see userstore.Store.
	CreateUserStore(ctx context.Context, s *portal.UserStore) error
	UserStores(ctx context.Context) ([]portal.UserStore, error)
	UpsertStoreUser(ctx context.Context, storeID int64, username string, roles []string) (*portal.User, error)
	StoreUsers(ctx context.Context, storeID int64) ([]portal.StoreUser, error)
	SetDisabledByStore(ctx context.Context, userID int64) error
}

// DatabaseFile is the SQLite database's name in the data directory.
const DatabaseFile = "apistore.db"

// IsPostgres reports whether a --database value names a PostgreSQL
// database.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// ErrNewerSchema is returned by Open for a database a newer apistore has
// migrated: it may hold data this one would misread or damage.
var ErrNewerSchema = errors.New("the database was written by a newer apistore")

// Open opens, and migrates, the store a --database value names: empty for
// SQLite in dataDir (made, readable by its owner only, when missing), a
// postgres:// URL for PostgreSQL.
func Open(ctx context.Context, url, dataDir string) (Store, error) {
	var s Store
	switch {
	case url == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		path := filepath.Join(dataDir, DatabaseFile)
		d, err := sqlite.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, newerSchema(err))
		}
		s = d
	case IsPostgres(url):
		d, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", redact(url), newerSchema(err))
		}
		s = d
	default:
		return nil, fmt.Errorf("--database %q: give a postgres:// URL, or nothing for SQLite in the data directory", redact(url))
	}
	return withCache(s), nil
}

// newerSchema makes either store's refusal of a newer schema ErrNewerSchema.
func newerSchema(err error) error {
	if errors.Is(err, sqlite.ErrNewerSchema) || errors.Is(err, postgres.ErrNewerSchema) {
		return fmt.Errorf("%w: %w", ErrNewerSchema, err)
	}
	return err
}

// redact hides a password in a URL-like value for messages.
func redact(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		if colon := strings.Index(s, "://"); colon >= 0 && colon < at {
			return s[:colon+3] + "…" + s[at:]
		}
	}
	return s
}
