// Package web assembles apistore's servers: routes, middleware, TLS and the
// listeners of the store (9443) and of the token endpoint and gateway (8243
// HTTPS, 8280 HTTP).
package web

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/metrics"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/static"
	"github.com/apistore/apistore/web/lane"
	"github.com/labstack/echo/v4"
)

// Config says where to listen.
type Config struct {
	DataDir    string
	Bind       string // address to bind; empty: every interface
	StorePort  int    // HTTPS, the store UI
	HTTPSPort  int    // HTTPS, token endpoint and gateway
	HTTPPort   int    // plain HTTP, token endpoint and gateway
	PortOffset int    // added to every non-zero port, as WSO2's offset
	TLSCert    string
	TLSKey     string
	// ClientCertificates asks clients of the HTTPS port of /token and the
	// gateway for a TLS certificate (RFC 8705), without requiring or
	// checking one: the oauth package checks it against the client's
	// registration, and the gateway against the token's binding. The
	// store's port never asks, so browsers are not bothered.
	ClientCertificates bool
	// NetHTTPOnly serves the gateway's ports with net/http alone: without
	// it, their plain API calls are served by the lane (package lane),
	// everything else by net/http.
	NetHTTPOnly bool
	// PublicURL is the base URL (scheme://host[:port]) clients reach the
	// HTTPS and HTTP listeners at, when a proxy or another name stands in
	// front of them: the issuer and the URLs of the discovery document.
	// Empty: each listener's own address.
	PublicURL string
	// StorePublicURL is the same for the store.
	StorePublicURL string
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (the address log-in limits count, and the audit trail and the log
	// show); any other peer is the client itself, whatever it writes.
	TrustedProxies []netip.Prefix
	// HeaderTimeout bounds the TLS handshake and a request's headers
	// (default 10s); BodyTimeout a form's body on the store and the OAuth
	// endpoints (default 30s; then 408).
	HeaderTimeout, BodyTimeout time.Duration
	// MaxConnsPerAddress is how many connections one client address (an
	// IPv6 /64) may hold at once on each listener; 0: no limit.
	MaxConnsPerAddress int
	// Gateway serves the published APIs on the HTTPS and HTTP listeners,
	// below the OAuth endpoints; nil serves none.
	Gateway http.Handler
	// Metrics counts the requests of the store and the token endpoints
	// (gateway calls are the gateway's to count); nil counts none.
	Metrics *metrics.Metrics
	// MetricsAddr is the host:port of the /metrics listener, apart from the
	// public ones; empty: none.
	MetricsAddr string
}

// Server is the running set of listeners.
type Server struct {
	cfg   Config
	h     *handlers.Handlers
	store *echo.Echo
	api   *echo.Echo
}

// apiHandler is the token port's handler: API calls go straight to the
// gateway, ahead of echo (see gatewayFirst).
func (s *Server) apiHandler() http.Handler {
	if s.cfg.Gateway == nil {
		return s.api
	}
	return &gatewayFirst{gateway: s.cfg.Gateway, echo: s.api}
}

// New builds the store and API applications over h.
func New(cfg Config, h *handlers.Handlers) *Server {
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 10 * time.Second
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.StorePublicURL != "" {
		h.SetURLs(cfg.StorePublicURL, cfg.PublicURL)
		tellStoreOrigin(cfg.Gateway, cfg.StorePublicURL)
	}
	return &Server{cfg: cfg, h: h, store: newStoreApp(h, cfg), api: newAPIApp(h, cfg)}
}

// API returns the token-endpoint-and-gateway application, for tests that
// serve it with httptest.
func (s *Server) API() http.Handler { return s.apiHandler() }

// Store returns the store application, for tests.
func (s *Server) Store() http.Handler { return s.store }

func newAPIApp(h *handlers.Handlers, cfg Config) *echo.Echo {
	e := newEcho(cfg, cfg.PublicURL, "api")
	gw := cfg.Gateway
	form := bodyDeadline(cfg.BodyTimeout)
	e.Any("/token", h.Token, form)
	e.Any("/revoke", h.Revoke, form)
	e.Any("/introspect", h.Introspect, form)
	e.GET("/.well-known/oauth-authorization-server", h.Discovery)
	e.GET(oauth.JWKSPath, h.JWKS)
	probes(e, h)
	authorizeRoutes(e, h, form)
	e.StaticFS("/store/static", static.FS) // for store-styled pages on this port (consent)
	if gw != nil {
		// Echo prefers static routes to this wildcard, so the OAuth
		// endpoints keep priority over API contexts.
		e.Any(gatewayRoute, serveGateway(gw))
	}
	return e
}

// offsetAddr adds the port offset to the port of a host:port, as to every
// port, unless it is 0 (any free port): two servers on one machine with
// their own offsets then keep apart their metrics listeners too.
func offsetAddr(addr string, offset int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n == 0 {
		return addr, nil // a service name, or any free port
	}
	if n+offset < 1 || n+offset > 65535 {
		return "", fmt.Errorf("--port-offset %d takes port %d outside 1 to 65535", offset, n)
	}
	return net.JoinHostPort(host, strconv.Itoa(n+offset)), nil
}

// tellStoreOrigin tells the gateway the store's origin, which its APIs'
// CORS settings allow by default so that the store's console can call them.
func tellStoreOrigin(gateway http.Handler, store string) {
	if g, ok := gateway.(interface{ SetStoreOrigin(string) }); ok {
		g.SetStoreOrigin(store)
	}
}

// gatewayFirst serves API calls without echo: echo's context, router and
// middleware cost each call more than the gateway's own checks. A path
// whose first segment is reserved for the port's own endpoints
// (gateway.Reserved) goes to echo, which hands the calls no route of its
// own matches to the gateway as before; every other path goes to the
// gateway directly, as echo would route it. Gateway calls were never
// request-logged (see gatewayRoute), and a panic is recovered as
// recoverPanics does.
type gatewayFirst struct {
	gateway http.Handler
	echo    *echo.Echo
}

// ServeHTTP routes one request.
func (g *gatewayFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if gateway.Reserved(r.URL.Path) {
		g.echo.ServeHTTP(w, r)
		return
	}
	defer func() {
		if v := recover(); v != nil {
			logPanic(r, v)
			w.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": http.StatusText(http.StatusInternalServerError)})
		}
	}()
	g.gateway.ServeHTTP(w, r)
}

// serveGateway hands API calls to the gateway with net/http's own
// ResponseWriter rather than echo's Response, which takes the first
// WriteHeader as final: a backend's 100 Continue or 103 Early Hints would
// then hide its real status, and every such call would answer 200.
func serveGateway(gateway http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		gateway.ServeHTTP(c.Response().Writer, c.Request())
		return nil
	}
}

func newStoreApp(h *handlers.Handlers, cfg Config) *echo.Echo {
	e := newEcho(cfg, cfg.StorePublicURL, "store")
	storeRoutes(e, h, bodyDeadline(cfg.BodyTimeout))
	probes(e, h)
	return e
}

// probes adds the liveness and readiness checks, on every listener so an
// orchestrator can probe whichever port it routes to.
func probes(e *echo.Echo, h *handlers.Handlers) {
	e.GET("/healthz", h.Healthz)
	e.GET("/readyz", h.Readyz)
}

// newEcho is an application whose public base URL is publicURL (empty:
// the listener's address, which Run sets); name labels its metrics.
func newEcho(cfg Config, publicURL, name string) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = clientIP(cfg.TrustedProxies)
	e.HTTPErrorHandler = jsonErrorHandler
	if publicURL != "" {
		e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				req := c.Request()
				c.SetRequest(req.WithContext(handlers.WithListenerURL(req.Context(), publicURL)))
				return next(c)
			}
		})
	}
	e.Use(requestLog, recoverPanics)
	if cfg.Metrics != nil {
		e.Use(countRequests(cfg.Metrics, name))
	}
	return e
}

// countRequests reports each request but the gateway's calls to m, by its
// route template: paths would be as many labels as ids and API calls.
func countRequests(m *metrics.Metrics, app string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			if route := c.Path(); route != gatewayRoute {
				m.Request(app, route, c.Request().Method, c.Response().Status, time.Since(start))
			}
			return nil
		}
	}
}

// clientIP is the client's address: the peer's, or, when the peer is a
// trusted proxy, the nearest address in X-Forwarded-For that is not one.
// Log-in limits count per address, and a client could write any address
// into a header: only a trusted proxy's word is taken.
func clientIP(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	// echo trusts loopback, link-local and private addresses unless told
	// otherwise: only the configured ranges are proxies here.
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Masked().Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// recoverPanics turns a handler's panic into a 500 answer (through the
// error handler, so no stack trace reaches the client) and one log line with
// the stack but not the panic's value, which could hold a secret. A
// http.ErrAbortHandler goes on: net/http aborts the connection with it (the
// gateway's proxy uses it when an answer breaks off).
func recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			logPanic(c.Request(), v)
			err = echo.NewHTTPError(http.StatusInternalServerError)
		}()
		return next(c)
	}
}

// logPanic logs a handler's panic with its stack but not its value, which
// could hold a secret; http.ErrAbortHandler goes on panicking: net/http
// aborts the connection with it.
func logPanic(req *http.Request, v any) {
	if v == http.ErrAbortHandler {
		panic(v)
	}
	slog.ErrorContext(req.Context(), "handler panicked", "method", req.Method, "path", req.URL.Path,
		"panic_type", fmt.Sprintf("%T", v), "stack", string(debug.Stack()))
}

// jsonErrorHandler answers errors that escaped a handler without leaking
// their text: echo's own HTTP errors keep their status, the rest are 500s
// (logged once, here).
func jsonErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := http.StatusInternalServerError
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
	} else {
		slog.ErrorContext(c.Request().Context(), "request failed", "path", c.Request().URL.Path, "err", err)
	}
	_ = c.JSON(status, map[string]string{"error": http.StatusText(status)})
}

// gatewayRoute catches API calls. requestLog leaves them out: the gateway
// records each in its usage table, off the request path, and a log line per
// call would cost more than the call at the rates it serves.
const gatewayRoute = "/*"

// requestLog logs one line per request. The query string is left out: it can
// carry codes and tokens.
func requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		req := c.Request()
		if c.Path() == gatewayRoute {
			return nil
		}
		slog.InfoContext(req.Context(), "request", "method", req.Method, "path", req.URL.Path,
			"status", c.Response().Status, "duration", time.Since(start), "remote", c.RealIP())
		return nil
	}
}

// hsts tells browsers to reach this host over HTTPS only (RFC 6797). It
// wraps the HTTPS listeners alone: a header sent over plain HTTP must be
// ignored (§8.1), and the HTTP port stays for WSO2's curl commands.
func hsts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

// listener is one bound socket and how to serve it.
type listener struct {
	name string
	ln   net.Listener
	srv  *http.Server
	lane *lane.Server // in front of srv, or nil
	url  string       // where it listens, as printed
}

// serve serves the listener until shutdown.
func (l listener) serve() error {
	if l.lane != nil {
		return l.lane.Serve(l.ln)
	}
	return l.srv.Serve(l.ln)
}

// shutdown stops it gracefully.
func (l listener) shutdown(ctx context.Context) error {
	if l.lane != nil {
		return l.lane.Shutdown(ctx)
	}
	return l.srv.Shutdown(ctx)
}

// urlHost is the host of the printed URLs: localhost when every interface
// listens (the certificate made on first start names it), else the address
// of --bind, the only one that answers.
func (s *Server) urlHost() string {
	if s.cfg.Bind == "" {
		return "localhost"
	}
	if ip, err := netip.ParseAddr(s.cfg.Bind); err == nil && ip.IsUnspecified() {
		return "localhost"
	}
	return s.cfg.Bind
}

// Run binds every listener, prints their URLs to out, serves until ctx is
// done, then shuts down gracefully: requests in flight finish first.
func (s *Server) Run(ctx context.Context, out io.Writer) error {
	cert, err := loadCertificate(s.cfg.TLSCert, s.cfg.TLSKey, s.cfg.DataDir)
	if err != nil {
		return err
	}
	// HTTP/2 is offered on the HTTPS listeners (net/http serves it once the
	// handshake picks it), HTTP/1.1 to clients that do not speak it.
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"}}
	specs := []struct {
		name, scheme, path string
		port               int
		handler            http.Handler
		public             string // the configured public URL, if any
		clientCerts        bool   // see Config.ClientCertificates
	}{
		{"store", "https", "/store", s.cfg.StorePort, s.store, s.cfg.StorePublicURL, false},
		{"https", "https", "", s.cfg.HTTPSPort, s.apiHandler(), s.cfg.PublicURL, s.cfg.ClientCertificates},
		{"http", "http", "", s.cfg.HTTPPort, s.apiHandler(), s.cfg.PublicURL, false},
	}
	var ls []listener
	var publicURLs []string // store first
	defer func() {
		for _, l := range ls {
			l.ln.Close()
		}
	}()
	for _, sp := range specs {
		port := sp.port
		if port != 0 {
			port += s.cfg.PortOffset
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Bind, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("listen for %s: %w", sp.name, err)
		}
		ln = limitConns(ln, s.cfg.MaxConnsPerAddress, s.cfg.TrustedProxies)
		srv := &http.Server{Handler: sp.handler, ReadHeaderTimeout: s.cfg.HeaderTimeout, IdleTimeout: 2 * time.Minute}
		var fast *lane.Server
		if sp.name != "store" && s.cfg.Gateway != nil && !s.cfg.NetHTTPOnly {
			fast = &lane.Server{HTTP: srv, Takes: func(path string) bool { return !gateway.Reserved(path) }}
		}
		if sp.scheme == "https" {
			srv.Handler = hsts(sp.handler)
			// Each server its own copy: net/http adjusts it for HTTP/2.
			srv.TLSConfig = tlsConfig.Clone()
			if sp.clientCerts {
				srv.TLSConfig.ClientAuth = tls.RequestClientCert
			}
			if fast != nil {
				fast.TLS = srv.TLSConfig.Clone() // the lane shakes hands itself
			} else {
				ln = tls.NewListener(ln, srv.TLSConfig)
			}
		}
		own := sp.scheme + "://" + net.JoinHostPort(s.urlHost(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		// What the handlers write into URLs: the public URL, else this.
		base := cmp.Or(sp.public, own)
		srv.BaseContext = func(net.Listener) context.Context {
			ctx := handlers.WithListenerURL(context.Background(), base)
			if sp.name != "store" {
				// The issuer of the JWTs signed for its requests (access
				// tokens, backend JWTs), as its metadata names it.
				ctx = oauth.WithIssuer(ctx, base)
			}
			return ctx
		}
		publicURLs = append(publicURLs, base)
		ls = append(ls, listener{sp.name, ln, srv, fast, own + sp.path})
	}
	if s.cfg.MetricsAddr != "" && s.cfg.Metrics != nil {
		// Plain HTTP on an address of its own (loopback by default): what
		// it tells is for operators, never for the public ports.
		addr, err := offsetAddr(s.cfg.MetricsAddr, s.cfg.PortOffset)
		if err != nil {
			return fmt.Errorf("metrics address: %w", err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen for metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.cfg.Metrics.Handler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: s.cfg.HeaderTimeout, IdleTimeout: 2 * time.Minute}
		ls = append(ls, listener{"metrics", ln, srv, nil, "http://" + ln.Addr().String() + "/metrics"})
	}
	s.h.SetURLs(publicURLs[0], publicURLs[1:]...)
	tellStoreOrigin(s.cfg.Gateway, publicURLs[0])
	errs := make(chan error, len(ls))
	for _, l := range ls {
		fmt.Fprintf(out, "%s: %s\n", l.name, l.url)
		go func() { errs <- l.serve() }()
	}
	select {
	case err = <-errs:
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, l := range ls {
		if serr := l.shutdown(shutdownCtx); serr != nil && err == nil {
			err = serr
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
