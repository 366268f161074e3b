// Package handlers holds apistore's echo handlers: thin adapters that parse
// and validate a request, call the oauth core or the database, and answer.
package handlers

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/go-playground/validator/v10"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// Handlers serves every endpoint; it is built once by web.New.
type Handlers struct {
	oauth *oauth.Server
	store Store

	sessions   *sessions.CookieStore
	selfSignup bool
	now        func() time.Time
	logins     *loginLimiter
	validate   *validator.Validate
	urls       atomic.Pointer[publicURLs] // where the listeners are reached, once known; see SetURLs
	auditKey   []byte                     // keys the masks of unknown names in the audit trail; see maskName

	mailer        Mailer                 // nil: the server sends no mail
	resetValidity time.Duration          // how long an emailed reset link works
	outbox        outbox                 // mail being sent; see mail.go
	tokenIssued   func(grantType string) // nil: none; see WithTokenObserver

	directory Directory // secondary user stores; nil: none (see WithDirectory)
	tenants   sync.Map  // lower-case domain → pageTenant; see storeTenant
}

// New returns handlers over the oauth core and the store. Without options,
// sessions use random keys (lost at restart) and self sign-up is on.
func New(o *oauth.Server, s Store, opts ...Option) *Handlers {
	h := &Handlers{oauth: o, store: s, selfSignup: true, now: time.Now, resetValidity: DefaultResetValidity}
	for _, opt := range opts {
		opt(h)
	}
	if h.sessions == nil {
		h.sessions = newSessionStore(nil)
	}
	if h.auditKey == nil {
		h.auditKey = securecookie.GenerateRandomKey(32)
	}
	h.logins = newLoginLimiter(s, func() time.Time { return h.now() })
	h.validate = newValidator()
	return h
}
