package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// newTransport returns the http.Transport to backends.
func newTransport(cfg Config) *http.Transport {
	return &http.Transport{
		// Backends are reached directly: an HTTP_PROXY of the environment
		// must not see the calls.
		Proxy:                 nil,
		DialContext:           builtinDialer(&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}, cfg.Builtin),
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.BackendTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		// The caller's Accept-Encoding goes to the backend as it is; the
		// transport must not add its own and then decompress the answer.
		DisableCompression: true,
	}
}

// newProxy returns the reverse proxy to backends over transport. The
// request it is given already carries the backend's URL; Rewrite has
// ReverseProxy drop the hop-by-hop headers (RFC 9110 §7.6.1) and
// forwarding headers of the caller, and the caller's credentials are not
// passed on.
func newProxy(cfg Config, responses *responseFilter, transport http.RoundTripper, buffers *bufferPool) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.Host = "" // the backend's own host, from the URL
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del(AssertionHeader) // only the gateway's own goes
			dropOwnCookies(pr.Out)
			bc, _ := pr.Out.Context().Value(backendCallKey{}).(*backendCall)
			if bc != nil && bc.assertion != "" {
				pr.Out.Header[AssertionHeader] = []string{bc.assertion}
			}
			requestHeaders(pr.Out.Header, bc != nil && bc.passMethodOverride, fromTrustedProxy(pr.In, cfg.TrustedProxies))
			forward(pr, cfg.TrustedProxies)
			if bc != nil {
				pr.Out.Body = bc.watchCaller(pr.Out.Body, cfg.BodyTimeout)
			}
		},
		ModifyResponse: modifyResponse(cfg.BackendTimeout, responses),
		Transport:      transport,
		// No periodic flush: ReverseProxy already streams responses of
		// unknown length and event streams chunk by chunk; a response of
		// known length goes out in as few writes as it fits (flushing after
		// every write cost a quarter of the gateway's CPU).
		FlushInterval: 0,
		BufferPool:    buffers,
		ErrorHandler:  backendError,
		ErrorLog:      slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
}

// builtinDialer dials d, except that the endpoints served inside this
// process (Config.Builtin) are reached at their local address.
func builtinDialer(d *net.Dialer, builtin map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if local, ok := builtin[addr]; ok {
			addr = local
		}
		return d.DialContext(ctx, network, addr)
	}
}

// forward sets the X-Forwarded-For, -Proto and -Host headers of a call to a
// backend. A trusted proxy's are passed on (its chain, then the proxy
// itself): it speaks for the client, and knows whether the client used
// HTTPS. Anyone else's are replaced with what the gateway sees, or a
// client could pass for any address or scheme.
func forward(pr *httputil.ProxyRequest, trusted []netip.Prefix) {
	if !fromTrustedProxy(pr.In, trusted) {
		pr.SetXForwarded()
		return
	}
	pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	pr.SetXForwarded()
	for _, h := range []string{"X-Forwarded-Proto", "X-Forwarded-Host"} {
		if v := pr.In.Header.Get(h); v != "" {
			pr.Out.Header.Set(h, v)
		}
	}
}

// fromTrustedProxy reports whether r's peer is in trusted.
func fromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// ownCookiePrefix starts the names of apistore's own cookies (the store's
// session): cookies ignore ports, so a browser sends them to the gateway
// too, and they must not reach a backend.
const ownCookiePrefix = "apistore_"

// dropOwnCookies removes apistore's cookies from a request to a backend,
// keeping the others.
func dropOwnCookies(r *http.Request) {
	if !strings.Contains(r.Header.Get("Cookie"), ownCookiePrefix) {
		return
	}
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if !strings.HasPrefix(c.Name, ownCookiePrefix) {
			r.AddCookie(c)
		}
	}
}

// bufferPool reuses the proxies' copy buffers, which they would otherwise
// allocate (32 KiB) for every call.
type bufferPool struct{ p sync.Pool }

// get returns a free buffer, or a new one.
func (b *bufferPool) get() *[]byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return v
	}
	buf := make([]byte, 32<<10)
	return &buf
}

// put returns a buffer from get for reuse.
func (b *bufferPool) put(buf *[]byte) { b.p.Put(buf) }

// Get is get for ReverseProxy (httputil.BufferPool).
func (b *bufferPool) Get() []byte { return *b.get() }

// Put is put for ReverseProxy, which keeps no pointer to put back.
func (b *bufferPool) Put(buf []byte) { b.put(&buf) }

// backendError answers a failed backend call of ReverseProxy.
func backendError(w http.ResponseWriter, r *http.Request, err error) {
	bc, _ := r.Context().Value(backendCallKey{}).(*backendCall)
	backendFailed(w, r.Context(), bc, r.URL.Host, err)
}

// backendFailed answers a failed backend call: 504 when it timed out, 502
// when it could not be reached or broke off. The error's text (hosts,
// addresses) stays in the log.
func backendFailed(w http.ResponseWriter, ctx context.Context, bc *backendCall, host string, err error) {
	if bc != nil && bc.callerStalled.Load() {
		// The caller's body stopped; net/http closes the connection after
		// this answer, as what is left of the body cannot be read.
		w.Header().Set("Connection", "close")
		requestTimeout().write(w)
		return
	}
	if ctx.Err() != nil {
		// The caller went away; nobody reads an answer.
		w.WriteHeader(statusClientClosed)
		return
	}
	slog.WarnContext(ctx, "gateway: backend call failed", "host", host, "err", err)
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		(&Refusal{Status: http.StatusGatewayTimeout, Code: CodeBackendTimeout, Message: "Gateway timeout",
			Description: "the API's backend did not answer in time"}).write(w)
		return
	}
	description := "the API's backend could not be reached"
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		// Said apart: the backend is up, and the fix is the gateway's
		// trust (SSL_CERT_FILE), not the backend's availability.
		description = "the API's backend has a TLS certificate the gateway does not trust"
	}
	(&Refusal{Status: http.StatusBadGateway, Code: CodeBackendUnreachable, Message: "Bad gateway",
		Description: description}).write(w)
}

// backendCall is a call on its way to a backend: where the backend's
// endpoint appears on the gateway (the API's context and version), and how
// to abort the call when the backend stalls.
type backendCall struct {
	endpoint *url.URL
	prefix   string
	caller   http.ResponseWriter // the answer to the caller, whose read deadline bounds its body
	// A call through ReverseProxy is aborted by ending its context
	// (cancel); one of directProxy, which has no context of its own, by
	// ending the reads of its answer.
	cancel        context.CancelFunc
	answer        *backendBody
	stalled       atomic.Bool // the backend paused its answer past the timeout
	callerStalled atomic.Bool // the caller paused its request body past the timeout
	// passMethodOverride: the call's method overrides go to the backend
	// (it was checked as both methods); otherwise they are dropped.
	passMethodOverride bool
	// assertion is the backend JWT the backend gets in AssertionHeader
	// (portal.API.BackendJWT); empty: none.
	assertion string
}

type backendCallKey struct{}

// modifyResponse adjusts a backend's answer on its way to the caller: the
// final answer or a 101 (1xx informational answers go through
// statusRecorder instead).
func modifyResponse(idle time.Duration, responses *responseFilter) func(*http.Response) error {
	return func(res *http.Response) error {
		bc, _ := res.Request.Context().Value(backendCallKey{}).(*backendCall)
		bc.adjust(res, idle, responses)
		return nil
	}
}

// adjust cleans an answer's header, points its locations at the gateway
// and times its body's reads (see watch); a nil bc only cleans.
func (bc *backendCall) adjust(res *http.Response, idle time.Duration, responses *responseFilter) {
	responses.clean(res.Header)
	if bc == nil {
		return
	}
	bc.rewriteLocations(res)
	corsBackendAnswer(bc.caller.Header(), res.Header) // CORS hook (cors.go)
	if res.StatusCode != http.StatusSwitchingProtocols && res.Body != nil && res.Body != http.NoBody && !inMemory(res.Body) {
		res.Body = bc.watch(res.Body, idle)
	}
}

// rewriteLocations points the Location and Content-Location of a backend's
// answer (a redirect, a 201's new resource) at the gateway: a backend
// writes its own, internal address, which callers cannot reach and must not
// learn.
func (bc *backendCall) rewriteLocations(res *http.Response) {
	for _, h := range []string{"Location", "Content-Location"} {
		if v := res.Header.Get(h); v != "" {
			if public, ok := bc.public(v); ok {
				res.Header.Set(h, public)
			}
		}
	}
}

// inMemory reports whether a body was read whole with its answer's header
// (backendBody.inMemory): its reads cannot wait on the backend, so there
// is no stall to watch for, and no timer to set and stop on every read.
func inMemory(body io.Reader) bool {
	b, ok := body.(interface{ inMemory() bool })
	return ok && b.inMemory()
}

// watch aborts the call when one read of the backend's body waits longer
// than idle: ResponseHeaderTimeout bounds the wait for the header only, and
// a backend that stalls after it would hold the caller forever. Only the
// reads count, not the writes to a slow caller.
func (bc *backendCall) watch(body io.ReadCloser, idle time.Duration) io.ReadCloser {
	t := time.AfterFunc(idle, func() {
		bc.stalled.Store(true)
		bc.abort()
	})
	t.Stop()
	return &idleBody{ReadCloser: body, timer: t, idle: idle}
}

// abort aborts the call.
func (bc *backendCall) abort() {
	if bc.answer != nil {
		bc.answer.abort()
		return
	}
	bc.cancel()
}

// watchCaller bounds each pause in the caller's request body: every read
// of it may wait idle at most (the connection's read deadline, moved on
// with each read), so a caller that stops sending holds neither the
// connection nor the backend call for longer. Once the body has ended the
// deadline is lifted, as net/http keeps reading the connection in the
// background while the answer streams back.
func (bc *backendCall) watchCaller(body io.ReadCloser, idle time.Duration) io.ReadCloser {
	if body == nil || body == http.NoBody || bc.caller == nil || idle <= 0 {
		return body
	}
	return &callerBody{ReadCloser: body, bc: bc, rc: http.NewResponseController(bc.caller), idle: idle}
}

// callerBody is a caller's request body whose pauses are bounded.
type callerBody struct {
	io.ReadCloser
	bc   *backendCall
	rc   *http.ResponseController
	idle time.Duration
}

// Read reads from the caller, waiting at most idle.
func (b *callerBody) Read(p []byte) (int, error) {
	timed := b.rc.SetReadDeadline(time.Now().Add(b.idle)) == nil
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.bc.callerStalled.Store(true)
	case err == io.EOF && timed:
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// idleBody is a backend's body whose reads are timed.
type idleBody struct {
	io.ReadCloser
	timer *time.Timer
	idle  time.Duration
}

// Read reads from the backend, aborting the call if it takes too long.
func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.ReadCloser.Read(p)
	b.timer.Stop()
	return n, err
}

// Close stops the timer and closes the body.
func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.ReadCloser.Close()
}

// public maps a URL of the backend under its endpoint, absolute or an
// absolute path, to the gateway's path for it (a reference without scheme
// and host, RFC 9110 §10.2.2). Other URLs stay as they are: relative paths
// resolve right at the gateway too.
func (bc *backendCall) public(ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil || u.Opaque != "" || u.User != nil {
		return "", false
	}
	switch {
	case u.Host != "":
		if u.Scheme == "" {
			u.Scheme = bc.endpoint.Scheme
		}
		if !strings.EqualFold(u.Scheme, bc.endpoint.Scheme) || !sameHost(u, bc.endpoint) {
			return "", false
		}
	case u.Scheme != "" || !strings.HasPrefix(u.Path, "/"):
		return "", false
	}
	base := strings.TrimSuffix(bc.endpoint.EscapedPath(), "/")
	path := u.EscapedPath()
	if path != base && !strings.HasPrefix(path, base+"/") {
		return "", false
	}
	out := bc.prefix + path[len(base):]
	if u.ForceQuery || u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		out += "#" + u.EscapedFragment()
	}
	return out, true
}

// sameHost compares hosts and ports, a missing port being the scheme's.
func sameHost(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}
