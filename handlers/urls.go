package handlers

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// The absolute URLs apistore writes (the issuer of the discovery document
// and of authorization responses, the store's log-in page for a visitor of
// the token port, where a log-in may return to) name the listener a request
// came in on: its public URL (--public-url, --store-public-url) or, without
// one, its bound address and port. Never the request's Host or
// X-Forwarded-* headers: any client writes those, and one forged request
// would poison a cached discovery document or make a redirect go elsewhere.

// listenerURLKey is the context key of the base URL of a request's listener.
type listenerURLKey struct{}

// WithListenerURL returns ctx for the requests of a listener that clients
// reach at base (scheme://host[:port], no path). web sets it on each
// listener's base context.
func WithListenerURL(ctx context.Context, base string) context.Context {
	return context.WithValue(ctx, listenerURLKey{}, base)
}

// listenerURL is the base URL of the listener the request came in on; when
// web did not say (a test's httptest server), the connection's own local
// address and whether it is TLS.
func listenerURL(c echo.Context) string {
	return BaseURL(c.Request())
}

// BaseURL is the base URL of the listener req came in on, as listenerURL
// (for the gateway, which sees requests without echo).
func BaseURL(req *http.Request) string {
	if base, ok := req.Context().Value(listenerURLKey{}).(string); ok && base != "" {
		return base
	}
	u := url.URL{Scheme: "http", Host: "localhost"}
	if req.TLS != nil {
		u.Scheme = "https"
	}
	if addr, ok := req.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		ap := addr.AddrPort()
		u.Host = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
	}
	return u.String()
}

// publicURLs are where clients reach the store and the API listeners.
type publicURLs struct {
	store string
	api   []string // the API listeners' base URLs, HTTPS first
	hosts []string // host names of every listener: where a log-in may return to
}

// SetURLs tells the handlers the base URLs clients reach the store and the
// API listeners (/token, /authorize, the gateway) at, once web knows them
// (after binding, for port 0): the consent page sends an anonymous visitor
// to the store's log-in page, which sends them back.
func (h *Handlers) SetURLs(store string, api ...string) {
	u := &publicURLs{store: store}
	for _, base := range api {
		if strings.HasPrefix(base, "https:") {
			u.api = append([]string{base}, u.api...)
		} else if base != "" {
			u.api = append(u.api, base)
		}
	}
	for _, base := range append([]string{store}, api...) {
		if parsed, err := url.Parse(base); err == nil && parsed.Host != "" {
			u.hosts = append(u.hosts, parsed.Hostname())
		}
	}
	h.urls.Store(u)
}

// storeURL is the store's base URL, or "" when web has not said.
func (h *Handlers) storeURL() string {
	if u := h.urls.Load(); u != nil {
		return u.store
	}
	return ""
}

// apiURLs are the API listeners' base URLs (the gateway's and the OAuth
// endpoints'), HTTPS first; when web has not said (a test serving one
// application), the request's own listener.
func (h *Handlers) apiURLs(c echo.Context) []string {
	if u := h.urls.Load(); u != nil && len(u.api) > 0 {
		return u.api
	}
	return []string{listenerURL(c)}
}

// APIOrigins are the origins of the API listeners as the store's pages
// call them from a browser: HTTPS only, as a page served over HTTPS may
// not call plain HTTP. web names them in the store's Content Security
// Policy; empty until SetURLs.
func (h *Handlers) APIOrigins() []string {
	u := h.urls.Load()
	if u == nil {
		return nil
	}
	var out []string
	for _, base := range u.api {
		if strings.HasPrefix(base, "https:") {
			out = append(out, base)
		}
	}
	return out
}

// returnHosts are the host names a log-in on this request may send the
// visitor back to: the listener's own, the store's and the API listeners'.
func (h *Handlers) returnHosts(c echo.Context) []string {
	var hosts []string
	if u, err := url.Parse(listenerURL(c)); err == nil {
		hosts = append(hosts, u.Hostname())
	}
	if u := h.urls.Load(); u != nil {
		hosts = append(hosts, u.hosts...)
	}
	return hosts
}
