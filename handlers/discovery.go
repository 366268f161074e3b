package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Discovery serves the authorization server metadata,
// GET /.well-known/oauth-authorization-server (RFC 8414 §3). The issuer is
// the listener's public URL (--public-url), or without one its own address,
// so that the 8243 and 8280 listeners (and any port offset) each describe
// themselves; never the Host header. scopes_supported lists the super
// tenant's scopes: the metadata is one for all tenants, and other
// tenants' scopes are theirs to tell.
func (h *Handlers) Discovery(c echo.Context) error {
	ctx := c.Request().Context()
	scopes, err := h.store.Scopes(ctx, "")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.oauth.Metadata(listenerURL(c), scopeNames(scopes)))
}

// JWKS serves the public keys of the server's signing keys as a JWK Set
// (RFC 7517 §5), GET /.well-known/jwks.json, the metadata's jwks_uri: they
// verify its JWT access tokens (RFC 9068) and backend JWTs. A retired key
// stays in the set until the last token it signed has expired.
func (h *Handlers) JWKS(c echo.Context) error {
	keys := h.oauth.Keys()
	if keys == nil {
		return echo.ErrNotFound
	}
	set, err := keys.JWKS(c.Request().Context())
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/jwk-set+json", set)
}
