package gateway

import (
	"context"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// directProxy serves the common call without httputil.ReverseProxy: a
// bodiless GET, HEAD or OPTIONS to a plain-HTTP backend, from a caller
// that is not a trusted proxy, with nothing in its header or query that
// ReverseProxy would rewrite beyond what is dropped here. It writes the
// caller's header to the backend's connection as it reads it, skipping
// what must not go, rather than cloning the request, its header and its
// URL, and copies the answer back the same way. What it does is what
// ReverseProxy, newProxy's Rewrite and ModifyResponse do for such a call;
// every other call goes through them.
type directProxy struct {
	transport *backendTransport
	idle      time.Duration // the backend's longest pause in a body
	responses *responseFilter
	trusted   []netip.Prefix
	buffers   *bufferPool
	skip      map[string]bool // header fields that are not passed on
	// skipPassing is skip but for the method overrides, for a call that
	// passes them on (backendCall.passMethodOverride).
	skipPassing map[string]bool
}

func newDirectProxy(cfg Config, t *backendTransport, responses *responseFilter, buffers *bufferPool) *directProxy {
	d := &directProxy{transport: t, idle: cfg.BackendTimeout, responses: responses, trusted: cfg.TrustedProxies,
		buffers: buffers, skip: map[string]bool{}, skipPassing: map[string]bool{}}
	skipped := [][]string{hopByHop, urlOverrideHeaders, clientAddressHeaders,
		// The caller's credentials, its own forwarding headers (the
		// gateway writes its own), and what the transport writes itself.
		{"Authorization", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Host", "User-Agent", "Content-Length",
			AssertionHeader}}
	for _, names := range skipped {
		for _, name := range names {
			d.skip[name], d.skipPassing[name] = true, true
		}
	}
	for _, name := range methodOverrideHeaders {
		d.skip[name] = true
	}
	return d
}

// hopByHop are the header fields of one connection (RFC 9110 §7.6.1) that
// ReverseProxy removes from requests and answers, beside those an answer's
// Connection names.
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// takes reports whether the call is one directProxy serves (see
// directProxy); the others go through ReverseProxy.
func (d *directProxy) takes(r *http.Request, target *url.URL) bool {
	if target.Scheme != "http" || !bodiless(r) || !sendable(r.Header) || fromTrustedProxy(r, d.trusted) ||
		!plainQuery(r.URL.RawQuery) {
		return false
	}
	for _, c := range r.Header["Cookie"] {
		if strings.Contains(c, ownCookiePrefix) {
			return false // dropOwnCookies rewrites it
		}
	}
	return true
}

// plainQuery reports whether ReverseProxy would pass a query on as it is:
// no ; and no malformed escape, which it drops along with their parameters.
func plainQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// serve serves the call if it takes it (see takes), and reports whether it
// did. ctx is the call's; target is the backend's URL.
func (d *directProxy) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, bc *backendCall, target *url.URL) bool {
	if !d.takes(r, target) {
		return false
	}
	out := &outgoing{method: r.Method, target: target.RequestURI(), host: target.Host, userAgent: r.Header.Get("User-Agent"),
		header: r.Header, skip: d.skip}
	if bc.passMethodOverride {
		out.skip = d.skipPassing
	}
	// The caller's address and scheme, as ReverseProxy's SetXForwarded.
	add := func(name, value string) {
		out.extra[out.nExtra], out.extra[out.nExtra+1] = name, value
		out.nExtra += 2
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		add("X-Forwarded-For", ip)
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	add("X-Forwarded-Host", r.Host)
	add("X-Forwarded-Proto", proto)
	if bc.assertion != "" {
		add(AssertionHeader, bc.assertion)
	}
	res, err := d.transport.send(ctx, target, out, r, func(code int, h textproto.MIMEHeader) error {
		// As ReverseProxy: passed on at once, then forgotten.
		header := w.Header()
		copyHeader(header, http.Header(h))
		w.WriteHeader(code)
		clear(header)
		return nil
	})
	if err != nil {
		backendFailed(w, ctx, bc, target.Host, err)
		return true
	}
	bc.answer = res.Body.(*backendBody)
	removeConnectionHeaders(res.Header)
	bc.adjust(res, d.idle, d.responses)
	header := w.Header()
	copyHeader(header, res.Header)
	announced := len(res.Trailer)
	if announced > 0 {
		names := make([]string, 0, announced)
		for name := range res.Trailer {
			names = append(names, name)
		}
		header.Add("Trailer", strings.Join(names, ", "))
	}
	w.WriteHeader(res.StatusCode)
	if err := d.copyBody(w, res); err != nil {
		res.Body.Close()
		if ctx.Value(http.ServerContextKey) != nil {
			// The answer broke off: only aborting the connection says so
			// (ReverseProxy does the same).
			panic(http.ErrAbortHandler)
		}
		return true
	}
	res.Body.Close()
	if len(res.Trailer) > 0 {
		// Chunked, so that the trailers can follow.
		_ = http.NewResponseController(w).Flush()
	}
	if len(res.Trailer) == announced {
		copyHeader(header, res.Trailer)
		return true
	}
	for name, values := range res.Trailer {
		for _, v := range values {
			header.Add(http.TrailerPrefix+name, v)
		}
	}
	return true
}

// copyBody copies an answer's body to the caller. A body of unknown
// length, or an event stream, is flushed as it comes, header first; others
// go out as the server's buffer fills, as ReverseProxy does.
func (d *directProxy) copyBody(w http.ResponseWriter, res *http.Response) error {
	stream := res.ContentLength == -1
	const events = "text/event-stream"
	if ct := res.Header.Get("Content-Type"); !stream && len(ct) >= len(events) && strings.EqualFold(ct[:len(events)], events) {
		mediaType, _, _ := mime.ParseMediaType(ct)
		stream = mediaType == events
	}
	var flush func() error
	if stream {
		flush = http.NewResponseController(w).Flush
		_ = flush()
	}
	bp := d.buffers.get()
	defer d.buffers.put(bp)
	buf := *bp
	for {
		n, rerr := res.Body.Read(buf)
		if n > 0 {
			written, werr := w.Write(buf[:n])
			if werr == nil && written != n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return werr
			}
			if flush != nil {
				_ = flush()
			}
		}
		switch {
		case rerr == io.EOF:
			return nil
		case rerr != nil:
			return rerr
		}
	}
}

// removeConnectionHeaders removes an answer's hop-by-hop fields: those its
// Connection names, and hopByHop.
func removeConnectionHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for name := range strings.SplitSeq(f, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		delete(h, name)
	}
}

// copyHeader adds src's fields to dst; a field dst lacks shares src's
// values.
func copyHeader(dst, src http.Header) {
	for name, values := range src {
		if have, ok := dst[name]; ok {
			dst[name] = append(have, values...)
		} else {
			dst[name] = values
		}
	}
}
