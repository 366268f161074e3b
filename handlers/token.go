package handlers

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/labstack/echo/v4"
)

// Token is the token endpoint, POST /token (RFC 6749 §3.2).
func (h *Handlers) Token(c echo.Context) error {
	req := c.Request()
	body, oerr := h.readPost(c, "token")
	if oerr != nil {
		return writeOAuthError(c, oerr)
	}
	tr, oerr := oauth.ParseTokenRequest(req.Header.Get("Content-Type"), req.Header.Get("Authorization"), body)
	if oerr != nil {
		return writeOAuthError(c, oerr)
	}
	username := ""
	if tr.GrantType == oauth.GrantPassword {
		username = tr.Username
	}
	att := h.attempt(c, tr.ClientID, username, tr.GrantType)
	if oerr := h.throttle(c, &att); oerr != nil {
		return writeOAuthError(c, oerr)
	}
	tr.Source = passwordSource(c)
	tr.ClientCerts = clientCerts(req)
	tr.DPoP = h.dpopRequest(c)
	// JWT access tokens name this listener's issuer, as its metadata does.
	resp, oerr := h.oauth.Token(oauth.WithIssuer(req.Context(), listenerURL(c)), tr)
	h.settle(c, att, oerr)
	if oerr != nil && oerr.Status == http.StatusServiceUnavailable {
		retryAfter(c, time.Second)
	}
	if oerr != nil {
		return writeOAuthError(c, oerr)
	}
	if h.tokenIssued != nil && !resp.Repeated {
		h.tokenIssued(tr.GrantType)
	}
	return c.JSON(http.StatusOK, resp)
}

// readPost starts every client-authenticated POST endpoint (token,
// revocation, introspection): no caching, POST only, one Authorization
// header, a bounded form body. The cheap refusals come first: a body
// announced too large, and an address locked out for its failures, are
// answered before the body is read, so neither costs any parsing.
func (h *Handlers) readPost(c echo.Context, endpoint string) (string, *oauth.Error) {
	req := c.Request()
	noStore(c)
	if req.Method != http.MethodPost {
		c.Response().Header().Set("Allow", http.MethodPost)
		return "", &oauth.Error{Code: oauth.ErrCodeInvalidRequest,
			Description: "the " + endpoint + " endpoint accepts only POST", Status: http.StatusMethodNotAllowed}
	}
	if req.ContentLength > oauth.MaxFormBytes {
		return "", errTooLarge()
	}
	_, addrKey := limiterKeys("", c.RealIP())
	wait, err := h.logins.wait(req.Context(), addrKey)
	if err != nil {
		slog.ErrorContext(req.Context(), "login counters", "err", err)
		return "", oauth.ErrServer()
	}
	if wait > 0 {
		retryAfter(c, wait)
		return "", errLockedOut()
	}
	if len(req.Header.Values("Authorization")) > 1 {
		return "", oauth.ErrInvalidRequest("the Authorization header is repeated")
	}
	return readForm(req)
}

// errTooLarge answers a form body over oauth.MaxFormBytes.
func errTooLarge() *oauth.Error {
	return &oauth.Error{Code: oauth.ErrCodeInvalidRequest, Status: http.StatusRequestEntityTooLarge,
		Description: "the request body is larger than 64 KiB"}
}

// readForm reads a form body of at most oauth.MaxFormBytes.
func readForm(req *http.Request) (string, *oauth.Error) {
	body, err := io.ReadAll(io.LimitReader(req.Body, oauth.MaxFormBytes+1))
	if errors.Is(err, os.ErrDeadlineExceeded) { // web's body deadline
		return "", &oauth.Error{Code: oauth.ErrCodeInvalidRequest, Status: http.StatusRequestTimeout,
			Description: "the request body took too long to arrive"}
	}
	if err != nil {
		return "", oauth.ErrInvalidRequest("the request body could not be read")
	}
	if len(body) > oauth.MaxFormBytes {
		return "", errTooLarge()
	}
	return string(body), nil
}

// noStore forbids caching of responses that carry tokens (RFC 6749 §5.1).
func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// writeOAuthError answers with an RFC 6749 §5.2 error body; invalid_client
// carries a Basic challenge.
func writeOAuthError(c echo.Context, e *oauth.Error) error {
	if e.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="apistore"`)
	}
	return c.JSON(e.Status, e)
}
