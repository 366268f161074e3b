package handlers

// The store's building blocks, for every handler that shows a page or takes
// a form (the consent page of /authorize included):
//
//   - h.CurrentUser(c) is the logged-in *portal.User, or nil for an anonymous
//     visitor. It works on any route of either port: the session cookie has
//     Path=/ and no Domain, and cookies ignore ports.
//   - h.RequireLogin is route middleware that sends an anonymous visitor to
//     the store's log-in page and back to the same URL afterwards, also
//     across ports: e.GET("/authorize", h.ShowConsent, h.RequireLogin).
//   - h.CSRF is middleware that refuses a POST (PUT, PATCH, DELETE) whose
//     csrf_token form field, or X-CSRF-Token header, does not match the
//     session. web puts it on the whole store; add it to any other form's
//     route: e.POST("/authorize", h.Decide, h.CSRF).
//   - h.CSRFToken(c) is the session's form token; every form carries it as
//     @components.CSRF(token) (layout.Page.CSRF holds it too).
//   - h.page(c, title, nav) is the layout.Page for a handler's page (user
//     name, CSRF token, flash message), and render(c, status, component)
//     writes a page: render(c, http.StatusOK, pages.Consent(h.page(c,
//     "Authorize", ""), view)).
//   - h.flash(c, msg) shows msg once on the next page (after a redirect).
//   - h.ErrorPage is the HTML error handler: return echo.NewHTTPError(status,
//     "a sentence for the user") from a handler to show it.

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
)

const (
	sessionCookie = "apistore_session"
	sessionMaxAge = 12 * 60 * 60 // seconds; a session lasts a working day
	sessionIDKey  = "sid"
	csrfKey       = "csrf"
	userCacheKey  = "apistore.user"    // echo.Context key of the loaded user
	sessCacheKey  = "apistore.session" // echo.Context key of the loaded session
	csrfField     = "csrf_token"
	csrfHeader    = "X-CSRF-Token"
	loginPath     = "/store/login"
)

// newSessionStore keeps sessions in signed, encrypted cookies. Without keys
// it makes random ones, which a restart forgets.
func newSessionStore(keys [][]byte) *sessions.CookieStore {
	if keys == nil {
		keys = [][]byte{securecookie.GenerateRandomKey(64), securecookie.GenerateRandomKey(32)}
	}
	s := sessions.NewCookieStore(keys...)
	s.MaxAge(sessionMaxAge)
	// Path=/ and no Domain: the consent page on the token port sees the
	// session too. Lax keeps the cookie on the top-level navigation back from
	// another site (the /authorize redirect) but not on its POSTs.
	s.Options.Path = "/"
	s.Options.Domain = ""
	s.Options.Secure = true
	s.Options.HttpOnly = true
	s.Options.SameSite = http.SameSiteLaxMode
	return s
}

// session returns the request's session. A cookie that does not decode
// (tampered with, expired, or signed with other keys) starts a new one.
func (h *Handlers) session(c echo.Context) *sessions.Session {
	s, _ := h.sessions.Get(c.Request(), sessionCookie)
	return s
}

func (h *Handlers) saveSession(c echo.Context, s *sessions.Session) error {
	if err := s.Save(c.Request(), c.Response()); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// CurrentUser returns the logged-in user, or nil. The session is looked up
// in the database once per request, so logging out, ending the session
// from another (My account), or deleting the account ends it on the server
// even if a copy of the cookie lives on.
func (h *Handlers) CurrentUser(c echo.Context) *portal.User {
	if u, ok := c.Get(userCacheKey).(*portal.User); ok {
		return u
	}
	var u *portal.User
	if sid, ok := h.session(c).Values[sessionIDKey].(string); ok && sid != "" {
		s, found, err := h.store.LiveSession(c.Request().Context(), oauth.HashOf(sid), h.now())
		switch {
		case err == nil && found.Disabled: // disabled since: DisableUser ended its sessions, but one may have begun meanwhile
		case err == nil:
			u = found
			h.touch(c, s)
			c.Set(sessCacheKey, s)
		case !isNotFound(err):
			slog.ErrorContext(c.Request().Context(), "load session user", "err", err)
		}
	}
	c.Set(userCacheKey, u)
	return u
}

// currentSession is the logged-in user's session, or nil (after
// CurrentUser).
func (h *Handlers) currentSession(c echo.Context) *portal.Session {
	if h.CurrentUser(c) == nil {
		return nil
	}
	s, _ := c.Get(sessCacheKey).(*portal.Session)
	return s
}

// sessionTouchEvery is how stale a session's "last active" time may be in
// the user's list of sessions: recording every request would be a write for
// each page shown.
const sessionTouchEvery = 5 * time.Minute

// touch records that a session is in use, and from where, when the time
// recorded is older than sessionTouchEvery or the address changed. A
// failure is logged: the list of sessions is not worth failing a page for.
func (h *Handlers) touch(c echo.Context, s *portal.Session) {
	now, addr := h.now(), c.RealIP()
	if now.Sub(s.LastSeenAt) < sessionTouchEvery && s.Address == addr {
		return
	}
	if err := h.store.TouchSession(c.Request().Context(), s.ID, now, addr); err != nil {
		slog.ErrorContext(c.Request().Context(), "touch session", "err", err)
		return
	}
	s.LastSeenAt, s.Address = now, addr
}

// logIn starts a new session for u, with a new random session id (stored
// hashed) and form token: a cookie planted before login (session fixation)
// is worth nothing afterwards. The session keeps the address and browser
// it began from, for the user's list of sessions.
func (h *Handlers) logIn(c echo.Context, u *portal.User) error {
	sid, now := oauth.NewSecret(), h.now()
	ps := portal.Session{ID: oauth.HashOf(sid), UserID: u.ID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(sessionMaxAge * time.Second), Address: c.RealIP(), UserAgent: userAgent(c)}
	if err := h.store.StartSession(c.Request().Context(), ps); err != nil {
		return err
	}
	s := h.session(c)
	s.Values = map[any]any{sessionIDKey: sid, csrfKey: oauth.NewSecret()}
	c.Set(userCacheKey, u)
	c.Set(sessCacheKey, &ps)
	return h.saveSession(c, s)
}

// logOut ends the session on the server and deletes its cookie.
func (h *Handlers) logOut(c echo.Context) error {
	s := h.session(c)
	if sid, ok := s.Values[sessionIDKey].(string); ok && sid != "" {
		if err := h.store.DeleteSession(c.Request().Context(), oauth.HashOf(sid)); err != nil {
			return err
		}
	}
	s.Values = map[any]any{}
	opts := *h.sessions.Options
	opts.MaxAge = -1
	s.Options = &opts
	c.Set(userCacheKey, (*portal.User)(nil))
	c.Set(sessCacheKey, (*portal.Session)(nil))
	return h.saveSession(c, s)
}

// CSRFToken returns the session's form token, starting a session if needed.
func (h *Handlers) CSRFToken(c echo.Context) string {
	s := h.session(c)
	tok, changed := ensureCSRF(s)
	if changed {
		if err := h.saveSession(c, s); err != nil {
			slog.ErrorContext(c.Request().Context(), "start session", "err", err)
		}
	}
	return tok
}

func ensureCSRF(s *sessions.Session) (token string, changed bool) {
	if tok, ok := s.Values[csrfKey].(string); ok && tok != "" {
		return tok, false
	}
	tok := oauth.NewSecret()
	s.Values[csrfKey] = tok
	return tok, true
}

// LogOutPath is the log-out form's route: a stale form posted there by
// someone already logged out is not refused (see CSRF).
const LogOutPath = "/store/logout"

// errForgedForm is the answer to a form without the session's token.
var errForgedForm = echo.NewHTTPError(http.StatusForbidden,
	"This form has expired or was not sent from apistore. Go back, reload the page and try again.")

// CSRF refuses state-changing requests that do not carry the session's form
// token (synchronizer token pattern).
func (h *Handlers) CSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		want, _ := h.session(c).Values[csrfKey].(string)
		got := c.Request().Header.Get(csrfHeader)
		if got == "" {
			got = c.FormValue(csrfField)
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			if c.Path() == LogOutPath && h.CurrentUser(c) == nil {
				// Log out again, from a page left open in another tab: there
				// is nothing to protect, and nothing to do.
				return storeRedirect(c, "/store")
			}
			if kept, err := h.keptFormPage(c); kept || err != nil {
				return err
			}
			return errForgedForm
		}
		return next(c)
	}
}

// RequireLogin sends an anonymous visitor to the log-in page, which brings
// them back here afterwards.
func (h *Handlers) RequireLogin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if h.CurrentUser(c) != nil {
			return next(c)
		}
		return c.Redirect(http.StatusSeeOther, h.loginURL(c))
	}
}

// loginURL is the log-in page with this request as its return target. Only
// GET requests come back: a form cannot be re-posted after logging in.
func (h *Handlers) loginURL(c echo.Context) string {
	req, login := c.Request(), tenantPath(c, loginPath)
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return login
	}
	store, here, back := h.storeURL(), listenerURL(c), tenantPath(c, req.URL.RequestURI())
	if store == "" || here == store {
		return login + "?return=" + url.QueryEscape(back)
	}
	return store + login + "?return=" + url.QueryEscape(here+back)
}

// safeReturn returns target if it is a place to send someone after logging
// in: a path on this server, or an http(s) URL on one of apistore's hosts
// (any port, for the consent page on the token port). Anything else, which
// would make the log-in page an open redirect, is "".
func safeReturn(target string, hosts []string) string {
	if target == "" || strings.ContainsAny(target, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(target)
	if err != nil || u.User != nil || u.Opaque != "" {
		return ""
	}
	if u.Scheme == "" && u.Host == "" {
		if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
			return ""
		}
		return target
	}
	ours := slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(u.Hostname(), h) })
	if (u.Scheme != "https" && u.Scheme != "http") || !ours {
		return ""
	}
	return target
}

// flash stores a message for the next page shown to this session.
func (h *Handlers) flash(c echo.Context, msg string) error {
	s := h.session(c)
	s.AddFlash(msg)
	return h.saveSession(c, s)
}

// flashTo sends the browser to path (303) with msg shown there once.
func (h *Handlers) flashTo(c echo.Context, path, msg string) error {
	if err := h.flash(c, msg); err != nil {
		return err
	}
	return storeRedirect(c, path)
}

// page returns the frame of a page for this request: the user's name, the
// form token and any flash message (which is thereby used up).
func (h *Handlers) page(c echo.Context, title, nav string) layout.Page {
	s := h.session(c)
	tok, changed := ensureCSRF(s)
	p := layout.Page{Title: title, Active: nav, CSRF: tok, SelfSignup: h.selfSignup, Store: tenantPath(c, "/store")}
	if flashes := s.Flashes(); len(flashes) > 0 {
		changed = true
		p.Flash, _ = flashes[len(flashes)-1].(string)
	}
	if changed {
		if err := h.saveSession(c, s); err != nil {
			slog.ErrorContext(c.Request().Context(), "save session", "err", err)
		}
	}
	if u := h.CurrentUser(c); u != nil {
		p.Username = u.Username
		p.Publisher = mayPublish(u)
		p.Admin = isAdmin(u)
	}
	return p
}
