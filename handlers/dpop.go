package handlers

import (
	"github.com/apistore/apistore/oauth"
	"github.com/labstack/echo/v4"
)

// dpopRequest is the request's DPoP proof (RFC 9449 §4) with what it must
// match: the method, and the URL as clients reach this listener (its
// public URL, never the Host or X-Forwarded-* headers a client writes).
// When the server requires DPoP nonces, the answer carries the current one
// (§8.2), whatever it is.
func (h *Handlers) dpopRequest(c echo.Context) *oauth.DPoPRequest {
	req := c.Request()
	if nonce := h.oauth.DPoPNonce(); nonce != "" {
		c.Response().Header().Set("DPoP-Nonce", nonce)
	}
	return &oauth.DPoPRequest{Proofs: req.Header.Values("DPoP"), Method: req.Method, URL: listenerURL(c) + req.URL.EscapedPath()}
}
