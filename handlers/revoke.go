package handlers

import (
	"net/http"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/labstack/echo/v4"
)

// Revoke is the revocation endpoint, POST /revoke (RFC 7009 §2). A
// well-formed request answers 200 with an empty body, whether or not a token
// was revoked; when one was, WSO2's RevokedAccessToken, RevokedRefreshToken
// and AuthorizedUser headers say what (see oauth.Revocation for their values).
func (h *Handlers) Revoke(c echo.Context) error {
	r, att, oerr := h.readTokenHintRequest(c, "revocation")
	if oerr != nil {
		return writeOAuthError(c, oerr)
	}
	rev, oerr := h.oauth.Revoke(c.Request().Context(), r)
	h.settle(c, att, oerr)
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
		h.audit(c, portal.AuditTokenRevoked, rev.Username, r.ClientID, "/revoke")
	}
	return c.NoContent(http.StatusOK)
}

// Introspect is the introspection endpoint, POST /introspect (RFC 7662 §2).
func (h *Handlers) Introspect(c echo.Context) error {
	r, att, oerr := h.readTokenHintRequest(c, "introspection")
	if oerr != nil {
		return writeOAuthError(c, oerr)
	}
	resp, oerr := h.oauth.Introspect(c.Request().Context(), r)
	h.settle(c, att, oerr)
	if oerr != nil {
		return writeOAuthError(c, oerr)
	}
	return c.JSON(http.StatusOK, resp)
}

// readTokenHintRequest reads and parses a revocation or introspection
// request, and refuses it when its client or address failed too often.
func (h *Handlers) readTokenHintRequest(c echo.Context, endpoint string) (*oauth.TokenHintRequest, authAttempt, *oauth.Error) {
	body, oerr := h.readPost(c, endpoint)
	if oerr != nil {
		return nil, authAttempt{}, oerr
	}
	req := c.Request()
	r, oerr := oauth.ParseTokenHintRequest(req.Header.Get("Content-Type"), req.Header.Get("Authorization"), body)
	if oerr != nil {
		return nil, authAttempt{}, oerr
	}
	r.ClientCerts = clientCerts(req)
	r.DPoP = h.dpopRequest(c)
	att := h.attempt(c, r.ClientID, "", "")
	return r, att, h.throttle(c, &att)
}
