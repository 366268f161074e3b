package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
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
	reserved []string // the keys a password check is reserved under (see loginLimiter.reserve)
}

func (h *Handlers) attempt(c echo.Context, client, username, grant string) authAttempt {
	a := authAttempt{client: client, username: username, grant: grant}
	userKey, addrKey := limiterKeys(username, c.RealIP())
	a.keys = append(a.keys, addrKey)
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
// outrun the count; settle releases it.
func (h *Handlers) throttle(c echo.Context, a *authAttempt) *oauth.Error {
	now := h.now()
	wait := h.logins.wait(now, a.keys...)
	if wait <= 0 && a.username != "" {
		userKey, addrKey := limiterKeys(a.username, c.RealIP())
		if wait = h.logins.reserve(now, userKey, addrKey); wait <= 0 {
			a.reserved = []string{userKey, addrKey}
		}
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
func (h *Handlers) reserveSignup(c echo.Context) (done func(hashed bool), wait time.Duration) {
	key := signupLimiterKey(c.RealIP())
	if wait := h.logins.reserve(h.now(), key); wait > 0 {
		return nil, wait
	}
	return func(hashed bool) {
		var locked []string
		if hashed {
			locked = h.logins.fail(h.now(), key)
		}
		h.logins.release(key)
		h.auditLockout(c, locked)
	}, 0
}

// retryAfter tells the client how many seconds a lockout lasts.
func retryAfter(c echo.Context, wait time.Duration) {
	c.Response().Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
}

// settle counts and audits a failed client or user authentication, and
// audits a replayed grant; any other outcome leaves the counters alone, and
// a success clears the user's and the client's.
func (h *Handlers) settle(c echo.Context, a authAttempt, oerr *oauth.Error) {
	now := h.now()
	userKey, addrKey := limiterKeys(a.username, c.RealIP())
	switch {
	case oerr == nil:
		if a.username != "" {
			h.logins.succeed(userKey)
		}
		if a.client != "" {
			h.logins.succeed(clientLimiterKey(a.client))
		}
	case oerr.Code == oauth.ErrCodeInvalidClient:
		keys := []string{addrKey}
		if a.client != "" {
			keys = append(keys, clientLimiterKey(a.client))
		}
		locked := h.logins.fail(now, keys...)
		h.audit(c, db.AuditClientAuthFailed, "", h.auditConsumerKey(c, a.client), c.Request().URL.Path)
		h.auditLockout(c, locked)
	case oerr.Replay:
		h.audit(c, db.AuditGrantReplayed, "", a.client, a.grant+" presented again; its tokens were revoked")
	case a.username != "" && oerr.Code == oauth.ErrCodeInvalidGrant:
		// The password grant's only invalid_grant: a wrong username or password.
		locked := h.logins.fail(now, userKey, addrKey)
		h.audit(c, db.AuditLoginFailed, h.auditUsername(c, a.username), a.client, "password grant")
		h.auditLockout(c, locked)
	}
	if a.reserved != nil {
		h.logins.release(a.reserved...)
	}
}
