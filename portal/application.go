package portal

import (
	"time"

	"github.com/apistore/apistore/oauth"
)

// Application groups an owner's consumer keys (one production, one sandbox).
type Application struct {
	ID          int64
	OwnerID     int64
	Name        string
	Description string
	CallbackURL string
	Tier        string
	CreatedAt   time.Time
	// JWTAccessTokens: its access tokens are JWTs (RFC 9068), not opaque.
	JWTAccessTokens bool
	// DPoPRequired: its keys get tokens only with a DPoP proof (RFC 9449).
	DPoPRequired bool
	// TLSAuth is how its keys authenticate when not with their secrets: a
	// TLS client certificate (RFC 8705 §2). Set with SetApplicationTLSAuth.
	TLSAuth oauth.TLSAuth
}

// Key is a consumer key as its owner sees it in the store: its settings and
// its newest application token's expiry, never its secret.
type Key struct {
	ID               int64
	AppID            int64
	KeyType          oauth.KeyType
	ConsumerKey      string
	GrantTypes       []string
	CallbackURL      string
	AppTokenValidity time.Duration // 0: the server's setting
	CreatedAt        time.Time
	// HasAppToken says whether an unrevoked application (client_credentials)
	// token exists; AppTokenExpiresAt is the newest one's expiry (zero: never).
	HasAppToken       bool
	AppTokenExpiresAt time.Time
}

// Subscription lets an application call an API at a throttling tier.
type Subscription struct {
	ID         int64
	AppID      int64
	AppName    string
	Owner      string // the username of the application's owner
	APIID      int64
	APIName    string
	APIVersion string
	APIContext string
	APIStatus  string   // PUBLISHED or RETIRED
	APITiers   []string // the tiers the API offers now; Tier may no longer be one
	Tier       string
	CreatedAt  time.Time
}

// Usage is one call through the gateway.
type Usage struct {
	At         time.Time
	AppID      int64
	APIID      int64
	APIName    string
	APIVersion string
	Method     string
	Resource   string // the matched URL template; empty when none matched
	KeyType    string
	Status     int
	// Fault is the WSO2 fault code of a call the gateway refused or could
	// not complete (900908 not subscribed, 900910 missing scope, 900800
	// throttled…); 0 for one the backend answered.
	Fault   int
	Latency time.Duration
}

// QuotaKey names what a tier's limit counts: an application's calls to an
// API with one key type. Counting by subscription would start a fresh window
// each time an application unsubscribed and subscribed again.
type QuotaKey struct {
	AppID   int64
	APIID   int64
	KeyType string
}
