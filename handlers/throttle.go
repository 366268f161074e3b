package handlers

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/labstack/echo/v4"
)

// authAttempt is a request to /token, /revoke or /introspect that
// authenticates a client and, for the password grant, a user: the failure
// counters it is limited by.
type authAttempt struct {
	client   string // consumer key as sent; "" when none
	username string // the password grant's username; "" otherwise
	grant    string // the token request's grant type; "" at /revoke and /introspect
	keys     []string
	failing  []string    // those of keys with failures counted when the attempt began
	reserved reservation // a password check's place (see loginLimiter.reserve)
}

func (h *Handlers) attempt(c echo.Context, client, username, grant string) authAttempt {
	a := authAttempt{client: client, username: username, grant: grant}
	// The address was checked already, before the body was read (readPost).
	userKey, _ := limiterKeys(username, c.RealIP())
	if client != "" {
		a.keys = append(a.keys, clientLimiterKey(client))
	}
	if username != "" {
		a.keys = append(a.keys, userKey)
	}
	return a
}

// throttle refuses an attempt whose client, user or address failed too
// often, before any secret or password is checked, so the answer and its
// timing are the same whether the user or client exists (429 with
// Retry-After, RFC 6585 §4). An attempt with a password reserves its place
// under the username and the address, so that concurrent guesses cannot
// outrun the count; settle ends it. A store that cannot say is a
// server_error: no check goes ahead uncounted.
func (h *Handlers) throttle(c echo.Context, a *authAttempt) *oauth.Error {
	ctx := c.Request().Context()
	var wait time.Duration
	var err error
	if len(a.keys) > 0 {
		wait, a.failing, err = h.logins.check(ctx, a.keys...)
	}
	if err == nil && wait <= 0 && a.username != "" {
		userKey, addrKey := limiterKeys(a.username, c.RealIP())
		a.reserved, wait, err = h.logins.reserve(ctx, userKey, addrKey)
	}
	if err != nil {
		slog.ErrorContext(ctx, "login counters", "err", err)
		return oauth.ErrServer()
	}
	if wait <= 0 {
		return nil
	}
	retryAfter(c, wait)
	return errLockedOut()
}

// errLockedOut answers a request from a client, user or address that
// failed to authenticate too often (see retryAfter for how long).
func errLockedOut() *oauth.Error {
	return &oauth.Error{Code: oauth.ErrCodeTemporarilyUnavailable, Status: http.StatusTooManyRequests,
		Description: "too many failed authentication attempts; retry later"}
}

// passwordSource is who a password hash is computed for, so that hashing is
// shared fairly between addresses (oauth.CheckPasswordFor): the address,
// an IPv6 one with its /64, as the limits count it.
func passwordSource(c echo.Context) string { return addressBlock(c.RealIP()) }

// reserveSignup holds a place for a sign-up from the request's address
// among the few an address may make (signupLimit). It returns how long
// sign-ups stay refused, or, with 0, done, which frees the place once the
// password is hashed, counting the sign-up if it was (hashed is true).
func (h *Handlers) reserveSignup(c echo.Context) (done func(hashed bool), wait time.Duration, err error) {
	return h.reserveCounted(c, signupLimiterKey(c.RealIP()))
}

// reserveCounted holds a place under an address's counter of sign-ups
// (signupLimiterKey) or reset requests (resetLimiterKey), as reserveSignup
// says.
func (h *Handlers) reserveCounted(c echo.Context, key string) (done func(counted bool), wait time.Duration, err error) {
	ctx := c.Request().Context()
	res, wait, err := h.logins.reserve(ctx, key)
	if err != nil || wait > 0 {
		return nil, wait, err
	}
	return func(count bool) {
		var counted []string
		if count {
			counted = []string{key}
		}
		locked, err := h.logins.settle(ctx, res, counted...)
		h.logFailure(c, err)
		h.auditLockout(c, locked)
	}, 0, nil
}

// retryAfter tells the client how many seconds a lockout lasts.
func retryAfter(c echo.Context, wait time.Duration) {
	c.Response().Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
}

// settle counts and audits a failed client or user authentication, and
// audits a replayed grant; any other outcome leaves the counters alone, and
// a success clears the user's and the client's failures, when the attempt
// began with some counted (most successes have none: no write for them).
// It ends the attempt's reservation in every case.
func (h *Handlers) settle(c echo.Context, a authAttempt, oerr *oauth.Error) {
	ctx := c.Request().Context()
	userKey, addrKey := limiterKeys(a.username, c.RealIP())
	var failed []string
	switch {
	case oerr == nil:
		for _, key := range a.failing {
			h.logFailure(c, h.logins.succeed(ctx, key))
		}
	case oerr.Code == oauth.ErrCodeInvalidClient:
		failed = []string{addrKey}
		if a.client != "" {
			failed = append(failed, clientLimiterKey(a.client))
		}
		h.audit(c, portal.AuditClientAuthFailed, "", h.auditConsumerKey(c, a.client), c.Request().URL.Path)
	case oerr.Replay:
		h.audit(c, portal.AuditGrantReplayed, "", a.client, a.grant+" presented again; its tokens were revoked")
	case a.username != "" && oerr.Code == oauth.ErrCodeInvalidGrant:
		// The password grant's only invalid_grant: a wrong username or password.
		failed = []string{userKey, addrKey}
		h.audit(c, portal.AuditLoginFailed, h.auditUsername(c, a.username), a.client, "password grant")
	}
	if failed == nil && a.reserved.id == 0 {
		return
	}
	locked, err := h.logins.settle(ctx, a.reserved, failed...)
	h.logFailure(c, err)
	h.auditLockout(c, locked)
}

// logFailure logs a failure to update the log-in counters, which the
// answer already given cannot report.
func (h *Handlers) logFailure(c echo.Context, err error) {
	if err != nil {
		slog.ErrorContext(c.Request().Context(), "login counters", "err", err)
	}
}
