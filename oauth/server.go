package oauth

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultScope is granted when no requested scope could be granted, as WSO2 does.
const DefaultScope = "default"

// DefaultValidity holds WSO2's default lifetimes.
var DefaultValidity = Validity{
	AppToken:     time.Hour,
	UserToken:    time.Hour,
	RefreshToken: 24 * time.Hour,
	Code:         5 * time.Minute,
}

// Server is the authorization server: it issues, refreshes and validates tokens.
type Server struct {
	store    Store
	validity Validity
	now      func() time.Time
	grants   map[string]grantHandler
	strict   bool          // see Strict
	grace    time.Duration // see RefreshGrace
	jwt      jwtConfig
	proofs   ProofStore // nil: DPoP proofs are refused
	nonceKey []byte     // see RequireDPoPNonce; nil: no nonces
	// mtls and clientCAs: see MutualTLS.
	mtls      bool
	clientCAs *x509.CertPool
	// directory authenticates the users of secondary user stores; nil:
	// the database is the only one. See SetDirectory.
	directory Directory
	// partitioned holds the user-store domains whose tokens are kept
	// apart, domainOf a username's domain; see SetTokenPartitioning.
	partitioned map[string]bool
	domainOf    func(username string) string
}

// grantHandler issues a token for one grant type, after client authentication.
type grantHandler func(ctx context.Context, c *Client, r *TokenRequest) (*TokenResponse, *Error)

// NewServer returns a server over store. Unset validity fields take WSO2's
// defaults; now may be nil (time.Now).
func NewServer(store Store, validity Validity, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	s := &Server{store: store, validity: validity.orDefault(DefaultValidity), now: now}
	if p, ok := store.(ProofStore); ok { // a store that keeps proofs enables DPoP
		s.proofs = p
	}
	s.grants = map[string]grantHandler{
		GrantPassword:          s.passwordGrant,
		GrantClientCredentials: s.clientCredentialsGrant,
		GrantRefreshToken:      s.refreshTokenGrant,
		GrantAuthorizationCode: s.authorizationCodeGrant,
	}
	return s
}

// Strict switches off what the OAuth 2.0 Security BCP (RFC 9700) advises
// against and apistore offers by default because WSO2's docs use it: the
// password grant (§2.4), the implicit grant (§2.1.2), authorization codes
// without PKCE and the plain PKCE method (§2.1.1). Call it before serving.
func (s *Server) Strict() {
	s.strict = true
	delete(s.grants, GrantPassword)
}

// GrantTypes lists the grant types this server offers, in display order:
// AllGrantTypes, less the password and implicit grants in strict mode.
func (s *Server) GrantTypes() []string {
	if !s.strict {
		return AllGrantTypes
	}
	return []string{GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken}
}

// TokenResponse is a successful access token response (RFC 6749 §5.1).
// ExpiresIn is left out for tokens that never expire.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in,omitempty"`
	// Repeated marks the answer a refresh retry gets again within the
	// grace period (RefreshGrace): no token was issued for it.
	Repeated bool `json:"-"`
}

// Token answers a token request (RFC 6749 §3.2): it authenticates the client,
// then hands the request to its grant type.
func (s *Server) Token(ctx context.Context, r *TokenRequest) (*TokenResponse, *Error) {
	grant, known := s.grants[r.GrantType]
	if !known {
		return nil, ErrUnsupportedGrantType("grant type " + r.GrantType + " is not supported")
	}
	client, err := s.authenticate(ctx, r.ClientID, r.ClientSecret, r.ClientCerts)
	if err != nil {
		return nil, err
	}
	if !client.Allows(r.GrantType) {
		return nil, ErrUnauthorizedClient("this consumer key may not use the " + r.GrantType + " grant")
	}
	proof, oerr := s.CheckProof(ctx, r.DPoP, "")
	switch {
	case oerr != nil:
		return nil, oerr
	case proof != nil:
		ctx = context.WithValue(ctx, proofKeyCtx{}, proof.JKT)
	case client.DPoPRequired:
		return nil, errDPoPRequired()
	}
	return grant(ctx, client, r)
}

// AuthenticateClient checks a consumer key and secret (RFC 6749 §2.3.1).
// A key registered for certificate authentication (RFC 8705 §2) cannot
// authenticate this way.
func (s *Server) AuthenticateClient(ctx context.Context, id, secret string) (*Client, *Error) {
	return s.authenticate(ctx, id, secret, nil)
}

// passwordGrant is the resource owner password credentials grant (RFC 6749 §4.3).
func (s *Server) passwordGrant(ctx context.Context, c *Client, r *TokenRequest) (*TokenResponse, *Error) {
	if r.Username == "" || r.Password == "" {
		return nil, ErrInvalidRequest("username and password are required")
	}
	if s.directory != nil && s.directory.Claims(r.Username) {
		return s.directoryPasswordGrant(ctx, c, r)
	}
	u, err := s.store.UserByName(ctx, r.Username)
	hash := dummyPasswordHash // an unknown user costs the same work
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, internal(ctx, "load user", err)
	default:
		hash = u.PasswordHash
	}
	ok, err := CheckPasswordFor(ctx, r.Source, hash, r.Password)
	switch {
	case errors.Is(err, ErrPasswordBusy):
		return nil, ErrBusy()
	case ctx.Err() != nil: // the client went away while waiting its turn
		return nil, ErrServer()
	case err != nil:
		return nil, internal(ctx, "check password", err)
	case !ok || u == nil:
		return nil, ErrInvalidGrant("invalid username or password")
	case u.Disabled: // said only to whoever knows the password
		return nil, ErrInvalidGrant("the account is disabled")
	}
	return s.passwordTokens(ctx, c, u, r)
}

// passwordTokens issues the password grant's tokens to a user whose
// password was checked, with the scopes among r's that their roles allow.
// A user of another tenant than the client's is refused as an unknown one:
// tenants see nothing of each other.
func (s *Server) passwordTokens(ctx context.Context, c *Client, u *User, r *TokenRequest) (*TokenResponse, *Error) {
	if !sameTenant(u.Tenant, c.Tenant) {
		return nil, ErrInvalidGrant("invalid username or password")
	}
	scopes, oerr := s.grantableScopes(ctx, c.Tenant, r.Scope, u.Roles)
	if oerr != nil {
		return nil, oerr
	}
	return s.issue(ctx, c, u.ID, s.partitionOf(u.Username), scopes, GrantPassword, Hash{}, certThumbprint(r.ClientCerts))
}

// clientCredentialsGrant issues an application token (RFC 6749 §4.4) on
// behalf of the application's owner, whose roles bound its scopes. An
// owner from a secondary user store is asked about there first, as the
// refresh grant asks about its user: no password vouches for them now.
func (s *Server) clientCredentialsGrant(ctx context.Context, c *Client, r *TokenRequest) (*TokenResponse, *Error) {
	if oerr := s.checkDirectoryOwner(ctx, c); oerr != nil {
		return nil, oerr
	}
	scopes, err := s.grantableScopes(ctx, c.Tenant, r.Scope, c.OwnerRoles)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, c, c.OwnerID, s.partitionOf(c.Owner), scopes, GrantClientCredentials, Hash{}, certThumbprint(r.ClientCerts))
}

// refreshTokenGrant exchanges a refresh token for new tokens (RFC 6749 §6).
// Refresh tokens are one-time: a second use revokes the whole chain (RFC
// 9700 §4.14.2), unless it is the same client's retry within the grace
// period (RefreshGrace), which gets the first use's answer again.
func (s *Server) refreshTokenGrant(ctx context.Context, c *Client, r *TokenRequest) (*TokenResponse, *Error) {
	if r.RefreshToken == "" {
		return nil, ErrInvalidRequest("refresh_token is missing")
	}
	h := HashOf(r.RefreshToken)
	old, err := s.store.RefreshToken(forToken(ctx, r.RefreshToken), h)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrInvalidGrant("the refresh token is not valid")
	case err != nil:
		return nil, internal(ctx, "load refresh token", err)
	case old.KeyID != c.KeyID && old.RefreshUsed && !old.Revoked:
		// A spent refresh token in another client's hands has leaked, and
		// the chain with it: a replay, never a retry.
		return nil, s.refreshReused(InPartition(ctx, old.Partition), old.FamilyID)
	case old.KeyID != c.KeyID:
		return nil, ErrInvalidGrant("the refresh token was issued to another client")
	case old.Revoked:
		return nil, ErrInvalidGrant("the refresh token was revoked")
	case old.JKT != "" && ctx.Value(proofKeyCtx{}) == nil:
		// Bound tokens stay bound: no refresh into a bearer token, and no
		// retry of one without a proof either.
		return nil, ErrInvalidDPoPProof("the refresh token's chain is DPoP-bound: send a DPoP proof")
	case old.RefreshUsed:
		return s.refreshRetry(InPartition(ctx, old.Partition), r.RefreshToken, old.FamilyID)
	case expired(old.RefreshExpiresAt, s.now()):
		return nil, ErrInvalidGrant("the refresh token has expired")
	case s.grants[old.GrantType] == nil || !c.Allows(old.GrantType):
		// Switched off since (Strict, or the key's settings): the chain it
		// started ends with it.
		return nil, ErrInvalidGrant("the " + old.GrantType + " grant this refresh token came from is no longer allowed for this key")
	}
	// Only the scopes a new request could get now: a scope restricted to
	// other roles since the chain began is dropped.
	roles, err := s.store.UserRoles(ctx, old.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidGrant("the user's account is disabled or deleted")
	}
	if err != nil {
		return nil, internal(ctx, "load user roles", err)
	}
	if oerr := s.checkDirectoryUser(ctx, old.UserID); oerr != nil {
		return nil, oerr
	}
	requested, oerr := refreshScopes(old.Scopes, r.Scope, c.KeyType)
	if oerr != nil {
		return nil, oerr
	}
	scopes, oerr := s.grantableScopes(ctx, c.Tenant, requested, roles)
	if oerr != nil {
		return nil, oerr
	}
	// The chain stays in its partition (a token issued before the
	// partitioning and moved since gets its marker now).
	next, resp := s.newToken(c, old.UserID, old.Partition, scopes, old.GrantType, old.FamilyID, true, certThumbprint(r.ClientCerts))
	bindToProofKey(ctx, next, resp)
	if oerr := s.formatJWT(ctx, c, next, resp); oerr != nil {
		return nil, oerr
	}
	ctx = InPartition(ctx, old.Partition)
	err = s.rotate(ctx, r.RefreshToken, next, resp)
	if errors.Is(err, ErrRefreshUsed) { // a concurrent refresh of the same token came first
		return s.refreshRetry(ctx, r.RefreshToken, old.FamilyID)
	}
	if errors.Is(err, ErrSecretReplaced) {
		return nil, errSecretReplaced()
	}
	if err != nil {
		return nil, internal(ctx, "rotate refresh token", err)
	}
	return resp, nil
}

// ErrRefreshUsed is returned by TokenStore.RotateRefresh when the refresh
// token was used or revoked in the meantime.
var ErrRefreshUsed = errors.New("refresh token already used")

// ErrSecretReplaced is returned by the stores when a token was to be issued
// to a request authenticated with a consumer secret that has been
// regenerated since: a regenerated secret ends everything obtained with the
// old one, in flight included.
var ErrSecretReplaced = errors.New("the consumer secret was regenerated")

// errSecretReplaced is the answer to ErrSecretReplaced.
func errSecretReplaced() *Error {
	return ErrInvalidClient("the consumer secret has been regenerated")
}

func (s *Server) refreshReused(ctx context.Context, family Hash) *Error {
	if err := s.store.RevokeFamily(ctx, family); err != nil {
		return internal(ctx, "revoke token family", err)
	}
	e := ErrInvalidGrant("the refresh token was already used; its tokens have been revoked")
	e.Replay = true
	return e
}

// refreshScopes is what a refresh asks for (RFC 6749 §6): the original
// scopes when it names none, else the ones it names, every one of which
// must have been granted originally (invalid_scope otherwise). The key's
// own type (scope=PRODUCTION in the WSO2 docs' refresh example, a leftover
// of WSO2's key-type scopes) names no scope and is left out, unless a scope
// of that name was granted.
func refreshScopes(original, requested []string, keyType KeyType) ([]string, *Error) {
	granted := nameSet(original)
	var out []string
	for _, s := range requested {
		switch {
		case granted[s]:
			out = append(out, s)
		case s == string(keyType):
		default:
			return nil, ErrInvalidScope("the scope " + quoteShort(s) + " was not granted to this refresh token; ask for some of " +
				quoteShort(strings.Join(original, " ")) + ", or for no scope to keep them all")
		}
	}
	if len(out) == 0 {
		return original, nil
	}
	return out, nil
}

// quoteShort quotes s for an error description, cut to 100 bytes: the
// text is the client's own, and may be long.
func quoteShort(s string) string {
	if len(s) > 100 {
		s = strings.ToValidUTF8(s[:100], "") + "…"
	}
	return strconv.Quote(s)
}

// nameSet holds names for lookups in constant time, so that comparing two
// lists costs their lengths, not their product.
func nameSet(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

// scopesByName indexes scopes by their names.
func scopesByName(scopes []Scope) map[string]Scope {
	m := make(map[string]Scope, len(scopes))
	for _, sc := range scopes {
		m[sc.Name] = sc
	}
	return m
}

// grantableScopes keeps the requested scopes that are registered in the
// tenant (the client's: a user of another is refused before) and that the
// roles allow; others are dropped, as WSO2 does. Nothing left means
// DefaultScope. A role means something only in its tenant, as the scope
// does: another tenant's scope of the same name is never looked at.
func (s *Server) grantableScopes(ctx context.Context, tenant string, requested, roles []string) ([]string, *Error) {
	var granted []string
	if len(requested) > 0 {
		registered, err := s.store.ScopesByName(ctx, tenant, requested)
		if err != nil {
			return nil, internal(ctx, "load scopes", err)
		}
		byName := scopesByName(registered)
		for _, name := range requested {
			if sc, ok := byName[name]; ok && rolesAllow(sc.Roles, roles) {
				granted = append(granted, name)
			}
		}
	}
	if len(granted) == 0 {
		granted = []string{DefaultScope}
	}
	return granted, nil
}

func rolesAllow(scopeRoles, userRoles []string) bool {
	if len(scopeRoles) == 0 {
		return true
	}
	for _, r := range userRoles {
		if slices.Contains(scopeRoles, r) {
			return true
		}
	}
	return false
}

// issue creates and stores a new token, with a refresh token when the key
// allows the refresh grant and the grant is not client_credentials; cert,
// unless zero, is the thumbprint of the client certificate it is bound to;
// partition is the token's (see SetTokenPartitioning).
func (s *Server) issue(ctx context.Context, c *Client, userID int64, partition string, scopes []string, grant string, family, cert Hash) (*TokenResponse, *Error) {
	t, resp := s.newToken(c, userID, partition, scopes, grant, family, refreshAllowed(c, grant), cert)
	bindToProofKey(ctx, t, resp)
	if oerr := s.formatJWT(ctx, c, t, resp); oerr != nil {
		return nil, oerr
	}
	if err := s.store.CreateToken(ctx, t); errors.Is(err, ErrSecretReplaced) {
		return nil, errSecretReplaced()
	} else if err != nil {
		return nil, internal(ctx, "store token", err)
	}
	return resp, nil
}

// refreshAllowed says whether a token of this grant gets a refresh token:
// never for client_credentials (RFC 6749 §4.4.3), implicit (§4.2.2) or
// the console.
func refreshAllowed(c *Client, grant string) bool {
	return grant != GrantClientCredentials && grant != GrantImplicit && grant != GrantConsole && c.Allows(GrantRefreshToken)
}

// newToken makes a token and its response. A zero family starts a new
// chain; a non-zero cert binds the access token to the client certificate
// with that thumbprint (RFC 8705 §3); a partition marks its strings.
func (s *Server) newToken(c *Client, userID int64, partition string, scopes []string, grant string, family Hash, withRefresh bool, cert Hash) (*Token, *TokenResponse) {
	now := s.now()
	v := c.Validity.orDefault(s.validity)
	lifetime := v.UserToken
	switch grant {
	case GrantClientCredentials:
		lifetime = v.AppToken
	case GrantConsole:
		lifetime = ConsoleValidity
		if v.AppToken > 0 && v.AppToken < lifetime {
			lifetime = v.AppToken
		}
	}
	access := markToken(partition, NewSecret())
	t := &Token{
		Partition:  partition,
		AccessHash: HashOf(access),
		FamilyID:   family,
		KeyID:      c.KeyID,
		UserID:     userID,
		Scopes:     scopes,
		GrantType:  grant,
		IssuedAt:   now,
		ExpiresAt:  expiry(now, lifetime),
		SecretHash: c.SecretHash,
		// RFC 8705 §3: bound whenever the client presented a certificate.
		CertThumbprint: cert,
	}
	if t.FamilyID.IsZero() {
		t.FamilyID = t.AccessHash
	}
	resp := &TokenResponse{
		AccessToken: access,
		Scope:       strings.Join(scopes, " "),
		TokenType:   "Bearer",
	}
	if lifetime > 0 {
		resp.ExpiresIn = int64((lifetime + time.Second - 1) / time.Second)
	}
	if withRefresh {
		resp.RefreshToken = markToken(partition, NewSecret())
		t.RefreshHash = HashOf(resp.RefreshToken)
		t.RefreshExpiresAt = expiry(now, v.RefreshToken)
	}
	return t, resp
}

// expiry is now+lifetime, or zero (never) for a negative lifetime.
func expiry(now time.Time, lifetime time.Duration) time.Time {
	if lifetime < 0 {
		return time.Time{}
	}
	return now.Add(lifetime)
}

// expired reports whether a deadline (zero: never) has passed.
func expired(deadline, now time.Time) bool {
	return !deadline.IsZero() && !now.Before(deadline)
}

// internal logs a storage failure once and hides it behind server_error:
// with 503 when the store said it may pass (ErrUnavailable).
func internal(ctx context.Context, what string, err error) *Error {
	slog.ErrorContext(ctx, "oauth: "+what, "err", err)
	if errors.Is(err, ErrUnavailable) {
		return ErrStoreUnavailable()
	}
	return ErrServer()
}
