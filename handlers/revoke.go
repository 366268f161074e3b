package handlers

import (
	"net/http"

	"github.com/apistore/apistore/oauth"
	"github.com/labstack/echo/v4"
)

// Revoke is the revocation endpoint, POST /revoke (RFC 7009 §2). A
// well-formed request answers 200 with an empty body, whether or not a token
// was revoked; when one was, WSO2's RevokedAccessToken, RevokedRefreshToken
// and AuthorizedUser headers say what (see oauth.Revocation for their values).
func (h *Handlers) Revoke(c echo.Context) error {
	r, oerr := readTokenHintRequest(c, "revocation")
	if oerr != nil {
		return writeOAuthError(c, oerr)
	}
	rev, oerr := h.oauth.Revoke(c.Request().Context(), r)
	if oerr != nil {
		return writeOAuthError(c, oerr)
	}
	if rev != nil {
		hdr := c.Response().Header()
		hdr.Set("RevokedAccessToken", rev.AccessToken)
		if rev.RefreshToken != "" {
			hdr.Set("RevokedRefreshToken", rev.RefreshToken)
		}
		hdr.Set("AuthorizedUser", rev.Username)
	}
	return c.NoContent(http.StatusOK)
}

// Introspect is the introspection endpoint, POST /introspect (RFC 7662 §2).
func (h *Handlers) Introspect(c echo.Context) error {
	r, oerr := readTokenHintRequest(c, "introspection")
	if oerr != nil {
		return writeOAuthError(c, oerr)
	}
	resp, oerr := h.oauth.Introspect(c.Request().Context(), r)
	if oerr != nil {
		return writeOAuthError(c, oerr)
	}
	return c.JSON(http.StatusOK, resp)
}

// readTokenHintRequest reads and parses a revocation or introspection request.
func readTokenHintRequest(c echo.Context, endpoint string) (*oauth.TokenHintRequest, *oauth.Error) {
	body, oerr := readPost(c, endpoint)
	if oerr != nil {
		return nil, oerr
	}
	req := c.Request()
	return oauth.ParseTokenHintRequest(req.Header.Get("Content-Type"), req.Header.Get("Authorization"), body)
}
