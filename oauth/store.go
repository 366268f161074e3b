package oauth

import (
	"context"
	"slices"
	"strings"
	"time"
)

// KeyType tells production keys from sandbox keys; every application has one
// of each, as in WSO2's API Store.
type KeyType string

// The two key types of an application.
const (
	Production KeyType = "PRODUCTION"
	Sandbox    KeyType = "SANDBOX"
)

// Grant types of RFC 6749 §4, named as they appear in grant_type and in a
// key's allowed grant types ("implicit" is response_type=token).
const (
	GrantPassword          = "password"
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantImplicit          = "implicit"
)

// AllGrantTypes lists every grant type a key can allow, in display order.
var AllGrantTypes = []string{GrantPassword, GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken, GrantImplicit}

// DefaultGrantTypes are allowed for a new key unless told otherwise
// (implicit stays off, as the store's Generate form has it).
var DefaultGrantTypes = []string{GrantPassword, GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken}

// Validity holds token lifetimes. Zero means "not set" (fall back to the
// server's setting); a negative value means the token never expires.
type Validity struct {
	AppToken     time.Duration // client_credentials access tokens
	UserToken    time.Duration // access tokens issued for a user
	RefreshToken time.Duration
	Code         time.Duration // authorization codes
}

// orDefault fills unset fields of v from d.
func (v Validity) orDefault(d Validity) Validity {
	pick := func(a, b time.Duration) time.Duration {
		if a == 0 {
			return b
		}
		return a
	}
	return Validity{
		AppToken:     pick(v.AppToken, d.AppToken),
		UserToken:    pick(v.UserToken, d.UserToken),
		RefreshToken: pick(v.RefreshToken, d.RefreshToken),
		Code:         pick(v.Code, d.Code),
	}
}

// Client is one consumer key of an application: the OAuth client of RFC 6749.
type Client struct {
	KeyID       int64
	ConsumerKey string
	SecretHash  Hash
	KeyType     KeyType
	AppID       int64
	AppName     string
	OwnerID     int64
	Owner       string
	OwnerRoles  []string
	Tenant      string // the owner's tenant; "" is the super tenant's
	GrantTypes  []string
	CallbackURL string
	Validity    Validity
	// JWTAccessTokens says that the application's access tokens are JWTs
	// (RFC 9068) rather than opaque strings.
	JWTAccessTokens bool
	TLSAuth         TLSAuth // the application's certificate authentication, if any (RFC 8705 §2)
	// DPoPRequired: the application's tokens are issued only with a DPoP
	// proof (RFC 9449 §5).
	DPoPRequired bool
}

// Clone returns a copy of c that shares nothing with it, for caches that
// hand the same key to many requests.
func (c *Client) Clone() *Client {
	cp := *c
	cp.OwnerRoles = slices.Clone(c.OwnerRoles)
	cp.GrantTypes = slices.Clone(c.GrantTypes)
	cp.TLSAuth.Certs = slices.Clone(c.TLSAuth.Certs)
	return &cp
}

// Allows reports whether the key may use the grant type.
func (c *Client) Allows(grantType string) bool {
	return slices.Contains(c.GrantTypes, grantType)
}

// User is a resource owner.
type User struct {
	ID           int64
	Username     string // as stored: without the super tenant's suffix
	PasswordHash string
	Roles        []string
	Disabled     bool   // by an administrator, or the tenant is deactivated: no log-in, no token
	Tenant       string // the tenant's domain; "" is the super tenant's
}

// SuperTenant is WSO2's super tenant, which holds the users whose names
// carry no other tenant's domain.
const SuperTenant = "carbon.super"

// FullUsername is a stored username with its tenant, as introspection and
// the revocation headers give it: admin@carbon.super, alice@acme.com.
func FullUsername(stored, tenant string) string {
	if tenant == "" || tenant == SuperTenant {
		return stored + "@" + SuperTenant
	}
	return stored
}

// sameTenant reports whether two tenant domains are one; "" is the super
// tenant's.
func sameTenant(a, b string) bool {
	if a == "" {
		a = SuperTenant
	}
	if b == "" {
		b = SuperTenant
	}
	return strings.EqualFold(a, b)
}

// Scope is a registered scope. A scope with no roles may be granted to anyone;
// otherwise only to users holding one of its roles.
type Scope struct {
	Name        string
	Description string
	Roles       []string
}

// Token is a stored access token with its optional refresh token. Only the
// SHA-256 hashes of the token strings are kept.
type Token struct {
	AccessHash       Hash
	RefreshHash      Hash // zero when no refresh token was issued
	FamilyID         Hash // AccessHash of the first token of a refresh chain
	KeyID            int64
	UserID           int64
	Scopes           []string
	GrantType        string
	IssuedAt         time.Time
	ExpiresAt        time.Time // zero: never expires
	RefreshExpiresAt time.Time // zero: never expires
	Revoked          bool
	RefreshUsed      bool
	// CertThumbprint is the SHA-256 of the client certificate the access
	// token is bound to (RFC 8705 §3); zero when it is not bound.
	CertThumbprint Hash
	// JKT is the SHA-256 JWK thumbprint (base64url) of the DPoP key the
	// token is bound to (cnf.jkt, RFC 9449 §6); empty for a bearer token.
	JKT string
	// Partition is the user-store domain whose partition holds the token
	// ("" the default one): the one its strings name when it was issued
	// with partitioning on, the one its row was found in when read.
	Partition string
	// SecretHash is the key's secret hash as the issuing request saw it;
	// when set, the store refuses the token with ErrSecretReplaced if the
	// key's secret has been regenerated since. Not stored.
	SecretHash Hash
}

// HasRefresh reports whether a refresh token was issued with the token.
func (t *Token) HasRefresh() bool { return !t.RefreshHash.IsZero() }

// TokenInfo is a token joined with the key, application and user it belongs to.
type TokenInfo struct {
	Token
	ConsumerKey string
	KeyType     KeyType
	AppID       int64
	AppName     string
	Username    string // the full name: admin@carbon.super, alice@acme.com
	Tenant      string // the user's tenant
}

// Clone returns a copy of t that shares nothing with it, for caches that
// hand the same token to many requests.
func (t *TokenInfo) Clone() *TokenInfo {
	cp := *t
	cp.Scopes = slices.Clone(t.Scopes)
	return &cp
}

// ClientStore finds consumer keys.
type ClientStore interface {
	// ClientByKey returns the key with its application and owner, or
	// ErrNotFound (also for a key of a disabled owner's application).
	ClientByKey(ctx context.Context, consumerKey string) (*Client, error)
}

// UserStore finds resource owners.
type UserStore interface {
	// UserByName returns the user (case-insensitive username), or ErrNotFound.
	UserByName(ctx context.Context, username string) (*User, error)
	// UserRoles returns the roles of the user with the id, or ErrNotFound
	// (also for a disabled user).
	UserRoles(ctx context.Context, id int64) ([]string, error)
}

// ScopeStore finds registered scopes. Scopes belong to a tenant: the same
// name may be registered in several, each with its own roles.
type ScopeStore interface {
	// ScopesByName returns the tenant's registered scopes among names, in
	// any order; tenant is a domain, "" the super tenant's.
	ScopesByName(ctx context.Context, tenant string, names []string) ([]Scope, error)
}

// TokenStore keeps access and refresh tokens. A store that partitions them
// stores a Token in its Partition's table, and looks a hash up in the
// partition PartitionFrom(ctx) names (rotations: next's); it sets the
// Partition of the tokens it returns.
type TokenStore interface {
	// CreateToken stores a new token; it returns only once the row is committed.
	// It returns ErrSecretReplaced when t.SecretHash is no longer the key's.
	CreateToken(ctx context.Context, t *Token) error
	// AccessToken returns the token whose access token hashes to h, or
	// ErrNotFound (also when its user, or its application's owner, is
	// disabled).
	AccessToken(ctx context.Context, h Hash) (*TokenInfo, error)
	// RefreshToken returns the token whose refresh token hashes to h, or ErrNotFound.
	RefreshToken(ctx context.Context, h Hash) (*Token, error)
	// RotateRefresh marks the refresh token hashing to used as used and
	// stores next, atomically. It returns ErrRefreshUsed when the refresh
	// token was already used or revoked (RFC 9700 §4.14.2).
	RotateRefresh(ctx context.Context, used Hash, next *Token) error
	// RevokeFamily revokes every token of a refresh chain.
	RevokeFamily(ctx context.Context, family Hash) error
	// RefreshTokenInfo is RefreshToken joined as AccessToken is, or ErrNotFound.
	RefreshTokenInfo(ctx context.Context, h Hash) (*TokenInfo, error)
	// RevokeToken revokes one access token and the refresh token issued with it.
	RevokeToken(ctx context.Context, access Hash) error
}

// Code is a stored authorization code (RFC 6749 §4.1.2), bound to the client,
// the redirect_uri and the PKCE challenge it was issued for.
type Code struct {
	Hash            Hash
	KeyID           int64
	UserID          int64
	RedirectURI     string // as sent in the authorization request; empty when omitted
	Scopes          []string
	Challenge       string // RFC 7636 §4.2 code_challenge; empty: no PKCE
	ChallengeMethod string // PKCES256 or PKCEPlain when Challenge is set
	IssuedAt        time.Time
	ExpiresAt       time.Time
	Used            bool
	FamilyID        Hash // refresh family of the tokens issued from it; zero until redeemed
	// DPoPJKT is the DPoP key thumbprint the request's dpop_jkt bound the
	// code to (RFC 9449 §10); empty when not bound.
	DPoPJKT string
}

// CodeStore keeps authorization codes.
type CodeStore interface {
	// CreateCode stores a new, unused code.
	CreateCode(ctx context.Context, c *Code) error
	// CodeByHash returns the code hashing to h, or ErrNotFound.
	CodeByHash(ctx context.Context, h Hash) (*Code, error)
	// RedeemCode marks the code used, records t's family on it and stores t,
	// atomically. It returns ErrCodeUsed when the code was already used, and
	// ErrSecretReplaced (leaving the code unused) as CreateToken does.
	RedeemCode(ctx context.Context, h Hash, t *Token) error
}

// Store is everything the authorization server needs.
type Store interface {
	ClientStore
	UserStore
	ScopeStore
	TokenStore
	KeptAnswerStore
	CodeStore
}
