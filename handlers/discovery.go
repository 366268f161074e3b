package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Discovery serves the authorization server metadata,
// GET /.well-known/oauth-authorization-server (RFC 8414 §3). The issuer is
// the listener's public URL (--public-url), or without one its own address,
// so that the 8243 and 8280 listeners (and any port offset) each describe
// themselves; never the Host header.
func (h *Handlers) Discovery(c echo.Context) error {
	ctx := c.Request().Context()
	scopes, err := h.store.Scopes(ctx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.oauth.Metadata(listenerURL(c), scopeNames(scopes)))
}
