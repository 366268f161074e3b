package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// JWTs: RFC 9068 access tokens for the applications that ask for them, and
// the backend JWTs (X-JWT-Assertion) the gateway sends the APIs that ask
// for them. Both are signed with the store's signing keys, which every node
// shares and which are published as a JWK Set (RFC 7517 §5) at the
// metadata's jwks_uri.

// SigningAlgorithm is the JWS algorithm of every signing key (RFC 7518 §3.4).
const SigningAlgorithm = jose.ES256

// AccessTokenJWTType is the typ header of a JWT access token (RFC 9068 §2.1).
const AccessTokenJWTType = "at+jwt"

const (
	// keysReload is how long a node signs with the key it loaded before
	// it looks again for a newer one: a rotation takes effect on every
	// node within it (the key it replaces stays published meanwhile).
	keysReload = time.Minute
	// keepAhead is how far past a token's expiry a node extends its key's
	// publication when it must, so that it writes at most about once per
	// keepAhead and key.
	keepAhead = time.Hour
	// jwtNeverLifetime is the lifetime of a JWT access token whose key
	// says "never expires": RFC 9068 §2.2 requires exp.
	jwtNeverLifetime = 365 * 24 * time.Hour
	// BackendJWTLifetime is how long a backend JWT is valid (WSO2's
	// default); the gateway signs one per token and API at most once
	// per half of it.
	BackendJWTLifetime = 15 * time.Minute
)

// SigningKey is a private key the server signs JWTs with. It cannot be
// hashed, being used, so it is kept like the session keys.
type SigningKey struct {
	ID        string // kid: the RFC 7638 thumbprint of its public key
	Private   []byte // PKCS #8, DER
	CreatedAt time.Time
	// RetiredAt is when a rotation replaced it (zero: it is current).
	RetiredAt time.Time
	// PublishedUntil is when the last token it signed expires, or later:
	// a retired key stays in the JWK Set until then.
	PublishedUntil time.Time
}

// SigningKeyStore keeps the signing keys every node shares.
type SigningKeyStore interface {
	// SigningKeys returns the keys to publish at now: the current ones,
	// then the retired ones published until after now, newest first.
	SigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error)
	// AddSigningKey stores k. With retire, in the same transaction, every
	// other current key is retired at k.CreatedAt and retired keys no
	// longer published at k.CreatedAt are deleted.
	AddSigningKey(ctx context.Context, k *SigningKey, retire bool) error
	// KeepSigningKey makes sure the key stays published until at least
	// until; it reports false when the key is gone.
	KeepSigningKey(ctx context.Context, id string, until time.Time) (bool, error)
}

// NewSigningKey makes a P-256 key (ES256) created at now.
func NewSigningKey(now time.Time) (*SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	thumb, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return &SigningKey{ID: base64.RawURLEncoding.EncodeToString(thumb), Private: der, CreatedAt: now}, nil
}

// ecdsa parses the private key.
func (k *SigningKey) ecdsa() (*ecdsa.PrivateKey, error) {
	priv, err := x509.ParsePKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
	}
	ec, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not an ECDSA key", k.ID)
	}
	return ec, nil
}

// RotateSigningKey makes a new current key and retires the others, which
// stay published until the tokens they signed have expired (apistore keys
// rotate).
func RotateSigningKey(ctx context.Context, store SigningKeyStore, now time.Time) (*SigningKey, error) {
	k, err := NewSigningKey(now)
	if err != nil {
		return nil, err
	}
	if err := store.AddSigningKey(ctx, k, true); err != nil {
		return nil, fmt.Errorf("rotate signing key: %w", err)
	}
	return k, nil
}

// Keys signs JWTs with the store's current signing key.
type Keys struct {
	store SigningKeyStore
	now   func() time.Time

	mu       sync.Mutex
	current  *loadedKey
	loadedAt time.Time
	kept     map[string]time.Time // per key: how long this node made sure it is published
}

// loadedKey is a signing key ready to sign.
type loadedKey struct {
	id  string
	key *ecdsa.PrivateKey
}

// NewKeys signs with store's keys; now may be nil (time.Now).
func NewKeys(store SigningKeyStore, now func() time.Time) *Keys {
	if now == nil {
		now = time.Now
	}
	return &Keys{store: store, now: now, kept: map[string]time.Time{}}
}

// Load loads the current key, making one when the store has none, so that
// the JWK Set has it before the first token is signed.
func (k *Keys) Load(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, err := k.signer(ctx, true)
	return err
}

// errKeyGone says that the key a node signs with was deleted by another.
var errKeyGone = errors.New("signing key deleted")

// Sign signs claims as a JWT of type typ that expires at exp, making sure
// the key stays published until then.
func (k *Keys) Sign(ctx context.Context, typ string, claims any, exp time.Time) (string, error) {
	k.mu.Lock()
	lk, err := k.signer(ctx, false)
	if err == nil {
		err = k.keep(ctx, lk.id, exp)
		if errors.Is(err, errKeyGone) {
			if lk, err = k.signer(ctx, true); err == nil {
				err = k.keep(ctx, lk.id, exp)
			}
		}
	}
	k.mu.Unlock()
	if err != nil {
		return "", err
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: SigningAlgorithm, Key: jose.JSONWebKey{Key: lk.key, KeyID: lk.id}}, opts)
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	return s, nil
}

// signer returns the current key, loading it when it is missing, old, or
// reload says so; it makes one when the store has none. k.mu is held.
func (k *Keys) signer(ctx context.Context, reload bool) (*loadedKey, error) {
	now := k.now()
	if !reload && k.current != nil && now.Sub(k.loadedAt) < keysReload {
		return k.current, nil
	}
	keys, err := k.store.SigningKeys(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	i := slices.IndexFunc(keys, func(s SigningKey) bool { return s.RetiredAt.IsZero() })
	var current *SigningKey
	if i >= 0 {
		current = &keys[i]
	} else {
		// The first start: of nodes starting at once, each may add one;
		// all are published, and the newest wins at the next reload.
		if current, err = NewSigningKey(now); err != nil {
			return nil, err
		}
		if err := k.store.AddSigningKey(ctx, current, false); err != nil {
			return nil, fmt.Errorf("store signing key: %w", err)
		}
	}
	ec, err := current.ecdsa()
	if err != nil {
		return nil, err
	}
	k.current, k.loadedAt = &loadedKey{id: current.ID, key: ec}, now
	return k.current, nil
}

// keep makes sure the key stays published until exp. k.mu is held.
func (k *Keys) keep(ctx context.Context, id string, exp time.Time) error {
	if !exp.After(k.kept[id]) {
		return nil
	}
	until := exp.Add(keepAhead)
	ok, err := k.store.KeepSigningKey(ctx, id, until)
	if err != nil {
		return fmt.Errorf("keep signing key: %w", err)
	}
	if !ok {
		delete(k.kept, id)
		return errKeyGone
	}
	k.kept[id] = until
	return nil
}

// JWKS returns the JWK Set (RFC 7517 §5) of the public keys that verify
// the JWTs signed and not yet expired: read from the store on every call,
// so that every node publishes a new key at once.
func (k *Keys) JWKS(ctx context.Context) ([]byte, error) {
	keys, err := k.store.SigningKeys(ctx, k.now())
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, sk := range keys {
		ec, err := sk.ecdsa()
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &ec.PublicKey, KeyID: sk.ID, Algorithm: string(SigningAlgorithm), Use: "sig"})
	}
	return json.Marshal(set)
}

// issuerKey carries the issuer identifier of the listener a request came
// to (its metadata's issuer) to the JWTs issued for it.
type issuerKey struct{}

// WithIssuer returns ctx carrying issuer, the iss of JWTs issued under it.
func WithIssuer(ctx context.Context, issuer string) context.Context {
	return context.WithValue(ctx, issuerKey{}, issuer)
}

// IssuerOf returns the issuer ctx carries (WithIssuer), or "".
func IssuerOf(ctx context.Context) string {
	iss, _ := ctx.Value(issuerKey{}).(string)
	return iss
}

// issuer is ctx's issuer, or the server's default.
func (s *Server) issuer(ctx context.Context) string {
	if iss := IssuerOf(ctx); iss != "" {
		return iss
	}
	return s.jwt.issuer
}

// jwtConfig is what the server signs JWTs with (see UseJWT).
type jwtConfig struct {
	keys   *Keys
	issuer string
	user   func(ctx context.Context, userID int64) (*User, error)
}

// UseJWT lets the server issue JWT access tokens (RFC 9068) to the
// applications that ask for them and sign backend JWTs, with keys.
// issuer is the iss of tokens issued outside a request that names its
// listener's (WithIssuer); user finds a user by id (a user's token's sub
// is their full name, FullUsername). Call it before serving.
func (s *Server) UseJWT(keys *Keys, issuer string, user func(ctx context.Context, userID int64) (*User, error)) {
	s.jwt = jwtConfig{keys: keys, issuer: issuer, user: user}
}

// Keys returns the signing keys of UseJWT, or nil.
func (s *Server) Keys() *Keys { return s.jwt.keys }

// accessClaims are the claims of a JWT access token (RFC 9068 §2.2).
type accessClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	// Cnf is what a bound token is bound to: the DPoP key (RFC 9449 §6.1)
	// or the client certificate (RFC 8705 §3.1), as introspection says.
	Cnf *Confirmation `json:"cnf,omitempty"`
	// Partition names the token's partition (see PartitionOf).
	Partition string `json:"partition,omitempty"`
}

// formatJWT turns t's access token into a JWT (RFC 9068) when its
// application asks for them; a JWT is stored, looked up and revoked by its
// hash as any access token, so the gateway refuses a revoked one at once.
func (s *Server) formatJWT(ctx context.Context, c *Client, t *Token, resp *TokenResponse) *Error {
	if !c.JWTAccessTokens || s.jwt.keys == nil {
		return nil
	}
	if t.ExpiresAt.IsZero() {
		t.ExpiresAt = t.IssuedAt.Add(jwtNeverLifetime)
		resp.ExpiresIn = int64(jwtNeverLifetime / time.Second)
	}
	sub := c.ConsumerKey // no resource owner (RFC 9068 §2.2): the client
	if t.GrantType != GrantClientCredentials && t.GrantType != GrantConsole {
		// The full name (alice@carbon.super, alice@acme.com), as
		// introspection, AuthorizedUser and the backend JWT give it.
		u, err := s.jwt.user(ctx, t.UserID)
		if err != nil {
			return internal(ctx, "name token's user", err)
		}
		sub = FullUsername(u.Username, u.Tenant)
	}
	iss := s.issuer(ctx)
	claims := accessClaims{
		Claims: jwt.Claims{Issuer: iss, Subject: sub, Audience: jwt.Audience{iss}, Expiry: jwt.NewNumericDate(t.ExpiresAt),
			IssuedAt: jwt.NewNumericDate(t.IssuedAt), ID: NewConsumerKey()},
		ClientID:  c.ConsumerKey,
		Scope:     resp.Scope,
		Cnf:       confirmation(t),
		Partition: t.Partition,
	}
	signed, err := s.jwt.keys.Sign(ctx, AccessTokenJWTType, claims, t.ExpiresAt)
	if err != nil {
		return internal(ctx, "sign access token", err)
	}
	first := t.FamilyID == t.AccessHash
	t.AccessHash = HashOf(signed)
	if first {
		t.FamilyID = t.AccessHash
	}
	resp.AccessToken = signed
	return nil
}

// The claims of a backend JWT, named as WSO2 API Manager names them, so
// that backends written for it read them unchanged.
const (
	claimPrefix = "http://wso2.org/claims/"
)

// BackendCall is what a backend JWT tells an API about a call.
type BackendCall struct {
	Token      *TokenInfo
	Tier       string // the subscription's
	APIContext string
	APIVersion string
}

// BackendJWT signs the backend JWT of a call (the gateway's X-JWT-Assertion
// header): who calls (subscriber, application, key type, tier, end user and
// its roles), valid until the token expires or BackendJWTLifetime passes,
// whichever comes first, which it returns.
func (s *Server) BackendJWT(ctx context.Context, call BackendCall) (string, time.Time, error) {
	if s.jwt.keys == nil {
		return "", time.Time{}, errors.New("backend JWT: no signing keys")
	}
	info := call.Token
	c, err := s.store.ClientByKey(ctx, info.ConsumerKey)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("backend JWT: %w", err)
	}
	roles, err := s.store.UserRoles(ctx, info.UserID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("backend JWT: %w", err)
	}
	now := s.now()
	exp := now.Add(BackendJWTLifetime)
	if !info.ExpiresAt.IsZero() && info.ExpiresAt.Before(exp) {
		exp = info.ExpiresAt
	}
	claims := map[string]any{
		"iss":                           s.issuer(ctx),
		"iat":                           now.Unix(),
		"exp":                           exp.Unix(),
		"jti":                           NewConsumerKey(),
		claimPrefix + "subscriber":      c.Owner,
		claimPrefix + "applicationid":   info.AppID,
		claimPrefix + "applicationname": info.AppName,
		claimPrefix + "keytype":         string(info.KeyType),
		claimPrefix + "tier":            call.Tier,
		claimPrefix + "enduser":         info.Username,
		claimPrefix + "role":            roles,
		claimPrefix + "apicontext":      call.APIContext,
		claimPrefix + "version":         call.APIVersion,
		claimPrefix + "client_id":       info.ConsumerKey,
	}
	signed, err := s.jwt.keys.Sign(ctx, "JWT", claims, exp)
	if err != nil {
		return "", time.Time{}, err
	}
	return signed, exp, nil
}
