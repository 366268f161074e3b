package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"time"
)

// Option configures Handlers.
type Option func(*Handlers)

// WithSessionKeys signs and encrypts session cookies with keys that outlive
// a restart (see web.LoadSessionKeys): a 64-byte signing key and a 32-byte
// encryption key. The key of the audit trail's masked names is derived from
// the signing key, so a name keeps its mask across restarts.
func WithSessionKeys(hashKey, blockKey []byte) Option {
	return func(h *Handlers) {
		h.sessions = newSessionStore([][]byte{hashKey, blockKey})
		mac := hmac.New(sha256.New, hashKey)
		mac.Write([]byte("apistore audit trail: masked names"))
		h.auditKey = mac.Sum(nil)
	}
}

// WithSelfSignup switches the store's Sign up page on or off.
func WithSelfSignup(on bool) Option {
	return func(h *Handlers) { h.selfSignup = on }
}

// WithClock replaces time.Now, so tests can move past a login lockout.
func WithClock(now func() time.Time) Option {
	return func(h *Handlers) { h.now = now }
}

// WithMailer sends the store's email through m: password reset links, and
// notices of changes to an account. Without it, the "Forgot your
// password?" page says to ask an administrator for a link.
func WithMailer(m Mailer) Option {
	return func(h *Handlers) { h.mailer = m }
}

// WithPasswordResetValidity sets how long an emailed reset link works
// (DefaultResetValidity when not set).
func WithPasswordResetValidity(d time.Duration) Option {
	return func(h *Handlers) { h.resetValidity = d }
}

// WithTokenObserver tells issued with the grant type of every access token
// /token issues (for the operators' metrics); it must be quick.
func WithTokenObserver(issued func(grantType string)) Option {
	return func(h *Handlers) { h.tokenIssued = issued }
}
