package gateway

import (
	"context"
	"time"

	"github.com/apistore/apistore/oauth"
)

// AssertionHeader carries the backend JWT (WSO2 API Manager's name for it):
// a JWT about the caller, signed with the server's keys, for the APIs that
// ask for one (portal.API.BackendJWT). One a caller sends is never passed on.
const AssertionHeader = "X-Jwt-Assertion"

// assertionKey names a backend JWT: one per token and API.
type assertionKey struct {
	token oauth.Hash
	api   int64
}

// assertion is a signed backend JWT, the issuer it names and when to sign
// a new one.
type assertion struct {
	jwt     string
	issuer  string
	renewAt time.Time
}

// assertion returns the backend JWT of a call, through the snapshot's
// cache: the gateway signs one per token and API, again once half its
// lifetime has passed. The snapshot goes with any change of access (a
// revoked token, a changed tier), and the JWT with it.
func (g *Gateway) assertion(ctx context.Context, s *snapshot, rt *route, info *oauth.TokenInfo, tier string) (string, error) {
	key := assertionKey{token: info.AccessHash, api: rt.api.ID}
	now := g.now()
	// Each listener names itself as the issuer (oauth.WithIssuer).
	issuer := oauth.IssuerOf(ctx)
	if a, ok := s.assertions.load(key); ok && now.Before(a.renewAt) && a.issuer == issuer {
		return a.jwt, nil
	}
	jwt, exp, err := g.oauth.BackendJWT(ctx, oauth.BackendCall{Token: info, Tier: tier, APIContext: rt.api.Context, APIVersion: rt.api.Version})
	if err != nil {
		return "", err
	}
	s.assertions.store(key, assertion{jwt: jwt, issuer: issuer, renewAt: now.Add(exp.Sub(now) / 2)})
	return jwt, nil
}
