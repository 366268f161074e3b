package oauth_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// jwtEnv is env with an application of alice's that gets JWT access tokens.
type jwtEnv struct {
	*env
	keys *oauth.Keys
	jwt  fixture.Key
}

const testIssuer = "https://issuer.example"

func newJWTEnv(t *testing.T) *jwtEnv {
	t.Helper()
	e := &jwtEnv{env: newEnv(t, oauth.Validity{AppToken: time.Hour, UserToken: 3 * time.Hour})}
	e.keys = oauth.NewKeys(e.db, e.clock.Now)
	e.srv.UseJWT(e.keys, testIssuer, func(ctx context.Context, id int64) (*oauth.User, error) {
		u, err := e.db.UserByID(ctx, id)
		if err != nil {
			return nil, err
		}
		return &u.User, nil
	})
	alice, err := e.db.UserAccount(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	e.jwt = jwtApp(t, e.db, alice)
	return e
}

// jwtApp adds an application of owner's, Signed, that gets JWT access
// tokens, and returns its production key.
func jwtApp(t *testing.T, d db.Store, owner *portal.User) fixture.Key {
	t.Helper()
	var prod fixture.Key
	app := &portal.Application{OwnerID: owner.ID, Name: "Signed", Tier: "Unlimited", JWTAccessTokens: true}
	err := d.CreateApplicationWithKeys(t.Context(), app, func(kt oauth.KeyType) *oauth.Client {
		k := fixture.Key{Secret: oauth.NewSecret()}
		k.Client = oauth.Client{ConsumerKey: oauth.NewConsumerKey(), SecretHash: oauth.HashOf(k.Secret), KeyType: kt,
			GrantTypes: oauth.DefaultGrantTypes}
		if kt == oauth.Production {
			prod = k
		}
		return &k.Client
	})
	if err != nil {
		t.Fatal(err)
	}
	return prod
}

// issue gets a JWT access token of the grant from the JWT application.
func (e *jwtEnv) issue(t *testing.T, r oauth.TokenRequest) *oauth.TokenResponse {
	t.Helper()
	r.ClientID, r.ClientSecret = e.jwt.ConsumerKey, e.jwt.Secret
	return e.mustToken(t, r)
}

// kid verifies a JWT against the current JWK Set and returns its kid and
// claims; an empty kid when the set has no key that verifies it.
func (e *jwtEnv) kid(t *testing.T, token string) (string, map[string]any) {
	t.Helper()
	set := e.set(t)
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("not a JWT: %q: %v", token, err)
	}
	kid := parsed.Headers[0].KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		return "", nil
	}
	var claims map[string]any
	if err := parsed.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature of %s: %v", kid, err)
	}
	return kid, claims
}

// set is the current JWK Set.
func (e *jwtEnv) set(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	raw, err := e.keys.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	return set
}

// setKids lists the kids of the current JWK Set.
func (e *jwtEnv) setKids(t *testing.T) []string {
	t.Helper()
	var kids []string
	for _, k := range e.set(t).Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// TestJWTAccessTokenClaims: RFC 9068 claims per grant; an opaque
// application's tokens stay opaque; a JWT validates, refreshes and
// revokes as any token.
func TestJWTAccessTokenClaims(t *testing.T) {
	e := newJWTEnv(t)
	ctx := t.Context()
	if opaque := e.mustToken(t, oauth.TokenRequest{GrantType: oauth.GrantClientCredentials}); len(opaque.AccessToken) != 43 {
		t.Errorf("an opaque application's token %q", opaque.AccessToken)
	}
	app := e.issue(t, oauth.TokenRequest{GrantType: oauth.GrantClientCredentials})
	_, claims := e.kid(t, app.AccessToken)
	if claims["sub"] != e.jwt.ConsumerKey || claims["client_id"] != e.jwt.ConsumerKey || claims["iss"] != testIssuer ||
		claims["aud"] != testIssuer || claims["scope"] != "default" || claims["exp"].(float64)-claims["iat"].(float64) != 3600 ||
		app.ExpiresIn != 3600 {
		t.Errorf("client_credentials: %+v, claims %v", app, claims)
	}
	user := e.issue(t, oauth.TokenRequest{GrantType: oauth.GrantPassword, Username: "alice", Password: "alice-password"})
	_, claims = e.kid(t, user.AccessToken)
	if claims["sub"] != "alice@carbon.super" || claims["exp"].(float64)-claims["iat"].(float64) != 3*3600 || user.RefreshToken == "" {
		t.Errorf("password: %+v, claims %v", user, claims)
	}
	// The listener's issuer, when the request names one.
	r := oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, ClientID: e.jwt.ConsumerKey, ClientSecret: e.jwt.Secret}
	named, oerr := e.srv.Token(oauth.WithIssuer(ctx, "http://localhost:8280"), &r)
	if oerr != nil {
		t.Fatal(oerr)
	}
	if _, claims := e.kid(t, named.AccessToken); claims["iss"] != "http://localhost:8280" {
		t.Errorf("iss %v, want the request's", claims["iss"])
	}

	info, err := e.srv.Validate(ctx, user.AccessToken)
	if err != nil || info.Username != "alice@carbon.super" || info.ConsumerKey != e.jwt.ConsumerKey {
		t.Fatalf("Validate(JWT): %+v, %v", info, err)
	}
	next := e.issue(t, oauth.TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: user.RefreshToken})
	if kid, claims := e.kid(t, next.AccessToken); kid == "" || claims["sub"] != "alice@carbon.super" || next.AccessToken == user.AccessToken {
		t.Errorf("refreshed: %+v, claims %v", next, claims)
	}
	if _, err := e.srv.Validate(ctx, next.AccessToken); err != nil {
		t.Errorf("Validate(refreshed JWT): %v", err)
	}
	if _, oerr := e.srv.Revoke(ctx, &oauth.TokenHintRequest{ClientID: e.jwt.ConsumerKey, ClientSecret: e.jwt.Secret, Token: next.AccessToken}); oerr != nil {
		t.Fatal(oerr)
	}
	if _, err := e.srv.Validate(ctx, next.AccessToken); err == nil {
		t.Error("a revoked JWT still validates")
	}
}

// TestSigningKeyRotation: after a rotation every node signs with the new
// key within keysReload; the old key stays published until the last token
// it signed has expired, then goes; a node signing with a key deleted
// meanwhile moves to the current one.
func TestSigningKeyRotation(t *testing.T) {
	e := newJWTEnv(t)
	ctx := t.Context()
	cc := oauth.TokenRequest{GrantType: oauth.GrantClientCredentials}
	first := e.issue(t, cc)
	k1, _ := e.kid(t, first.AccessToken)
	if k1 == "" || !slices.Equal(e.setKids(t), []string{k1}) {
		t.Fatalf("kid %q, set %v", k1, e.setKids(t))
	}
	// Another node, loaded now, whose clock then stops (it lags).
	frozen := e.clock.Now()
	other := oauth.NewKeys(e.db, func() time.Time { return frozen })
	if err := other.Load(ctx); err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(time.Second)
	k2, err := oauth.RotateSigningKey(ctx, e.db, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := e.setKids(t); !slices.Equal(got, []string{k2.ID, k1}) {
		t.Fatalf("after the rotation the set is %v, want %s then %s", got, k2.ID, k1)
	}
	// Within keysReload the node still signs with k1, which stays
	// published: its token verifies.
	e.clock.Advance(30 * time.Second)
	late := e.issue(t, cc)
	if kid, _ := e.kid(t, late.AccessToken); kid != k1 {
		t.Errorf("30 s after the rotation signed by %q, want %s", kid, k1)
	}
	e.clock.Advance(time.Minute)
	if kid, _ := e.kid(t, e.issue(t, cc).AccessToken); kid != k2.ID {
		t.Errorf("after keysReload signed by %q, want %s", kid, k2.ID)
	}
	// The old tokens still verify and validate until they expire.
	if kid, _ := e.kid(t, first.AccessToken); kid != k1 {
		t.Errorf("the first token no longer verifies (kid %q)", kid)
	}
	if _, err := e.srv.Validate(ctx, late.AccessToken); err != nil {
		t.Errorf("a token of the old key: %v", err)
	}
	// Once the last of them expired (plus the node's margin), k1 goes.
	e.clock.Advance(time.Hour + 30*time.Second)
	if got := e.setKids(t); !slices.Contains(got, k1) {
		t.Errorf("k1 left the set before the margin passed: %v", got)
	}
	e.clock.Advance(2 * time.Hour)
	if got := e.setKids(t); !slices.Equal(got, []string{k2.ID}) {
		t.Errorf("hours after k1's tokens expired the set is %v, want %s alone", got, k2.ID)
	}

	// The other node still holds k1 (by its clock it loaded it just now),
	// which the next rotation deletes. Signing, it finds k1 gone and takes
	// the current key.
	k3, err := oauth.RotateSigningKey(ctx, e.db, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.Claims{Subject: "x"}
	signed, err := other.Sign(ctx, "JWT", claims, frozen.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := e.kid(t, signed); kid != k3.ID {
		t.Errorf("a node whose key was deleted signed with %q, want the current %s", kid, k3.ID)
	}
}

// TestBoundJWTCarriesCnf: a JWT access token bound to a DPoP key names the
// key's thumbprint in its cnf claim (RFC 9449 §6.1), as introspection
// does; an unbound one has no cnf.
func TestBoundJWTCarriesCnf(t *testing.T) {
	e := newJWTEnv(t)
	key := fixture.NewDPoPKey(t, e.clock.Now)
	bound := e.issue(t, oauth.TokenRequest{GrantType: oauth.GrantClientCredentials,
		DPoP: dpop("POST", tokenURL, key.Proof("POST", tokenURL, ""))})
	if bound.TokenType != "DPoP" {
		t.Fatalf("token_type %q, want DPoP", bound.TokenType)
	}
	_, claims := e.kid(t, bound.AccessToken)
	if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != key.JKT {
		t.Errorf("cnf %v, want jkt %q", claims["cnf"], key.JKT)
	}
	if _, claims := e.kid(t, e.issue(t, oauth.TokenRequest{GrantType: oauth.GrantClientCredentials}).AccessToken); claims["cnf"] != nil {
		t.Errorf("an unbound JWT has cnf %v", claims["cnf"])
	}
}

// TestJWTSubjectIsFullName: a user's JWT names them as introspection and
// the revocation headers do (RFC 9068 §2.2's sub, WSO2's form): with their
// tenant, alice@acme.com, and admin@carbon.super for the super tenant.
func TestJWTSubjectIsFullName(t *testing.T) {
	e := newJWTEnv(t)
	hash, err := oauth.HashPassword("acme-password")
	if err != nil {
		t.Fatal(err)
	}
	admin := &portal.User{User: oauth.User{Username: "admin", PasswordHash: hash, Roles: []string{"subscriber"}}}
	if err := e.db.CreateTenant(t.Context(), &portal.Tenant{Domain: "acme.com"}, admin); err != nil {
		t.Fatal(err)
	}
	key := jwtApp(t, e.db, admin)
	for _, c := range []struct {
		key                      fixture.Key
		username, password, want string
	}{
		{e.jwt, "alice", "alice-password", "alice@carbon.super"},
		{key, "admin@acme.com", "acme-password", "admin@acme.com"},
	} {
		resp := e.mustToken(t, oauth.TokenRequest{GrantType: oauth.GrantPassword, Username: c.username, Password: c.password,
			ClientID: c.key.ConsumerKey, ClientSecret: c.key.Secret})
		_, claims := e.kid(t, resp.AccessToken)
		info, err := e.srv.Validate(t.Context(), resp.AccessToken)
		if err != nil || claims["sub"] != c.want || info.Username != c.want {
			t.Errorf("%s: sub %v, introspection's username %+v (%v), want %s", c.username, claims["sub"], info, err, c.want)
		}
	}
}
