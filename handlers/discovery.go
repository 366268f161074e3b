package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Discovery serves the authorization server metadata,
// GET /.well-known/oauth-authorization-server (RFC 8414 §3). The issuer is
// the URL the client used, so the 8243 and 8280 listeners (and any port
// offset) each describe themselves.
func (h *Handlers) Discovery(c echo.Context) error {
	ctx := c.Request().Context()
	scopes, err := h.store.Scopes(ctx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.oauth.Metadata(issuer(c), scopeNames(scopes)))
}

// issuer is the base URL the client reached this server at: the issuer of
// the metadata and of authorization responses on this listener.
func issuer(c echo.Context) string { return c.Scheme() + "://" + c.Request().Host }
