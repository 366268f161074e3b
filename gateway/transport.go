package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// backendTransport carries calls to backends. The common call, a request
// without a body to a plain-HTTP backend, goes over its own pool of
// HTTP/1.1 keep-alive connections: the request is written and the answer
// parsed in the caller's goroutine. http.Transport hands every call to two
// goroutines of its own per connection (a reader and a writer) and back,
// and that handing over cost more CPU than the rest of the gateway. Every
// other call goes through http.Transport, which knows what this does not:
// TLS and HTTP/2, protocol upgrades, request bodies (an early answer while
// the body is still being sent, Expect: 100-continue, trailers), and
// calls that could not be sent again should a kept-alive connection turn
// out closed (its reader goroutine notices that before a call is sent).
type backendTransport struct {
	fallback      *http.Transport
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	headerTimeout time.Duration // the wait for an answer's header
	idleTimeout   time.Duration // how long an unused connection is kept
	maxIdle       int           // per backend host

	mu     sync.Mutex
	idle   map[string][]*backendConn // by host:port, the most recently used last
	sweeps bool                      // a sweep of old idle connections is scheduled
}

// maxResponseHeader bounds an answer's header, with the 1xx answers
// before it that no one looked at (http.Transport's default
// MaxResponseHeaderBytes).
const maxResponseHeader = 10 << 20

func newBackendTransport(fallback *http.Transport, headerTimeout time.Duration) *backendTransport {
	return &backendTransport{fallback: fallback, dial: fallback.DialContext, headerTimeout: headerTimeout,
		idleTimeout: fallback.IdleConnTimeout, maxIdle: fallback.MaxIdleConnsPerHost, idle: map[string][]*backendConn{}}
}

// RoundTrip sends one call.
func (t *backendTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !plainCall(req) {
		return t.fallback.RoundTrip(req)
	}
	// As http.Transport: the User-Agent set, else Go's; set empty, none.
	ua, set := req.Header["User-Agent"]
	agent := "Go-http-client/1.1"
	if set {
		agent = ""
		if len(ua) > 0 {
			agent = ua[0]
		}
	}
	out := &outgoing{method: req.Method, target: req.URL.RequestURI(), host: req.URL.Host, userAgent: agent,
		header: req.Header, skip: transportSkips}
	var got1xx func(int, textproto.MIMEHeader) error
	if trace := httptrace.ContextClientTrace(req.Context()); trace != nil {
		got1xx = trace.Got1xxResponse
	}
	return t.send(req.Context(), req.URL, out, req, got1xx)
}

// transportSkips are the header fields http.Transport writes on its own
// terms, or not at all.
var transportSkips = map[string]bool{"Host": true, "User-Agent": true, "Content-Length": true, "Transfer-Encoding": true,
	"Trailer": true}

// send sends out to the backend at u over a kept-alive connection and
// reads the answer's header; req is the call the answer is to (its method
// says whether the answer has a body).
func (t *backendTransport) send(ctx context.Context, u *url.URL, out *outgoing, req *http.Request,
	got1xx func(int, textproto.MIMEHeader) error) (*http.Response, error) {
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	for {
		c, reused, err := t.conn(ctx, addr)
		if err != nil {
			return nil, err
		}
		res, err := c.exchange(ctx, out, req, t.headerTimeout, got1xx)
		if err == nil {
			return res, nil
		}
		c.Close()
		// A backend may close a kept-alive connection just as it is
		// taken: a call that got nothing back from it is sent again, on a
		// new one (the calls here can be replayed, see plainCall).
		if !reused || !errors.Is(err, errNothingRead) || ctx.Err() != nil {
			return nil, err
		}
	}
}

// CloseIdleConnections closes the connections not in use, of both
// transports.
func (t *backendTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*backendConn{}
	t.mu.Unlock()
	for _, conns := range idle {
		for _, c := range conns {
			c.Close()
		}
	}
	t.fallback.CloseIdleConnections()
}

// plainCall reports whether req goes over the transport's own connections:
// plain HTTP, no body, a method that http.Transport would also send again
// on a fresh connection (RFC 9110 §9.2.2), and a header it can send as it
// is (see sendable).
func plainCall(req *http.Request) bool {
	return req.URL.Scheme == "http" && req.URL.Host != "" && req.Host == "" && bodiless(req) && sendable(req.Header)
}

// bodiless reports whether a call has no body, and a method that can be
// replayed (RFC 9110 §9.2.2).
func bodiless(req *http.Request) bool {
	if (req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0 || req.Close ||
		len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// sendable reports whether a header goes as it is: no protocol upgrade,
// Expect, Te or Connection (whose fields say what else to drop), and every
// name and value valid (else http.Transport says what is wrong).
func sendable(h http.Header) bool {
	for name, values := range h {
		switch name {
		case "Connection", "Upgrade", "Expect", "Te":
			return false
		}
		if !httpguts.ValidHeaderFieldName(name) {
			return false
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return true
}

// conn returns an idle connection to addr, or a new one.
func (t *backendTransport) conn(ctx context.Context, addr string) (c *backendConn, reused bool, err error) {
	now := time.Now()
	t.mu.Lock()
	for conns := t.idle[addr]; len(conns) > 0; conns = t.idle[addr] {
		c = conns[len(conns)-1]
		t.idle[addr] = conns[:len(conns)-1]
		if now.Sub(c.idleSince) < t.idleTimeout {
			t.mu.Unlock()
			return c, true, nil
		}
		c.Close()
	}
	t.mu.Unlock()
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	c = &backendConn{Conn: nc, t: t, addr: addr}
	// Over nc: a closure over c would move c, conn's result, to the heap
	// on every call, reused connections' included.
	c.abortIO = func() { _ = nc.SetDeadline(aLongTimeAgo) }
	c.limit = headerLimit{r: nc, left: -1}
	c.br = bufio.NewReaderSize(&c.limit, 4<<10)
	c.bw = bufio.NewWriterSize(nc, 4<<10)
	return c, false, nil
}

// put keeps a connection whose last answer was read in full, for the next
// call to its backend.
func (t *backendTransport) put(c *backendConn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	conns := t.idle[c.addr]
	if len(conns) >= t.maxIdle {
		t.mu.Unlock()
		c.Close()
		return
	}
	t.idle[c.addr] = append(conns, c)
	sweep := !t.sweeps
	t.sweeps = true
	t.mu.Unlock()
	if sweep {
		time.AfterFunc(t.idleTimeout, t.sweep)
	}
}

// sweep closes the connections idle for longer than idleTimeout, and
// comes back while any are left.
func (t *backendTransport) sweep() {
	now := time.Now()
	var old []*backendConn
	t.mu.Lock()
	for addr, conns := range t.idle {
		// The least recently used come first.
		n := 0
		for n < len(conns) && now.Sub(conns[n].idleSince) >= t.idleTimeout {
			n++
		}
		old = append(old, conns[:n]...)
		if n == len(conns) {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = slices.Delete(conns, 0, n)
		}
	}
	t.sweeps = len(t.idle) > 0
	t.mu.Unlock()
	for _, c := range old {
		c.Close()
	}
	if t.sweeps {
		time.AfterFunc(t.idleTimeout, t.sweep)
	}
}

// backendConn is one HTTP/1.1 connection to a backend.
type backendConn struct {
	net.Conn
	t         *backendTransport
	addr      string
	limit     headerLimit
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	abortIO   func() // ends whatever the connection waits for, at once
}

// errNothingRead is a call that failed before anything came back on its
// connection.
var errNothingRead = errors.New("backend closed the connection before answering")

// aLongTimeAgo is a deadline that has passed: setting it ends a blocked
// read or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// outgoing is a request as backendConn writes it: the request line, Host,
// a User-Agent unless empty, the header but for the fields skip names,
// then the first nExtra of extra, name and value pairs. (An array, not a
// slice, keeps an outgoing and its fields on the caller's stack.)
type outgoing struct {
	method, target, host, userAgent string
	header                          http.Header
	skip                            map[string]bool
	extra                           [8]string
	nExtra                          int
}

// exchange writes out and reads the answer's header; the body is read as
// the caller reads the answer's.
func (c *backendConn) exchange(ctx context.Context, out *outgoing, req *http.Request, headerTimeout time.Duration,
	got1xx func(int, textproto.MIMEHeader) error) (*http.Response, error) {
	// Cancelling the call (the caller went away; through ReverseProxy,
	// the backend stalled) ends whatever the connection is waiting for.
	stop := context.AfterFunc(ctx, c.abortIO)
	if err := c.write(out); err != nil {
		stop()
		return nil, errors.Join(errNothingRead, err)
	}
	if err := c.SetReadDeadline(time.Now().Add(headerTimeout)); err != nil {
		stop()
		return nil, err
	}
	res, err := c.readResponse(req, got1xx)
	buffered := err == nil && res.ContentLength >= 0 && int64(c.br.Buffered()) >= res.ContentLength
	if err == nil && !buffered {
		// The header's deadline must not cut the body off. A body already
		// buffered reads nothing more from the connection, and the next
		// call sets a deadline of its own before it reads.
		err = c.SetReadDeadline(time.Time{})
	}
	if err != nil {
		stop()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, err
	}
	res.Body = &backendBody{body: res.Body, c: c, reuse: !res.Close, stop: stop, buffered: buffered}
	return res, nil
}

// write writes a request.
func (c *backendConn) write(out *outgoing) error {
	w := c.bw
	w.WriteString(out.method)
	w.WriteByte(' ')
	w.WriteString(out.target)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(out.host)
	w.WriteString("\r\n")
	if out.userAgent != "" {
		writeField(w, "User-Agent", out.userAgent)
	}
	for name, values := range out.header {
		if out.skip[name] {
			continue
		}
		for _, v := range values {
			writeField(w, name, v)
		}
	}
	for i := 0; i+1 < out.nExtra; i += 2 {
		writeField(w, out.extra[i], out.extra[i+1])
	}
	w.WriteString("\r\n")
	return w.Flush()
}

func writeField(w *bufio.Writer, name, value string) {
	w.WriteString(name)
	w.WriteString(": ")
	w.WriteString(textproto.TrimString(value))
	w.WriteString("\r\n")
}

// readResponse reads the answer's header, passing 1xx informational
// answers to got1xx (ReverseProxy forwards them; as in http.Transport,
// each one passed on starts the header's bound again, and a 101 nobody
// asked for is an error here, one ReverseProxy reports there).
func (c *backendConn) readResponse(req *http.Request, got1xx func(int, textproto.MIMEHeader) error) (*http.Response, error) {
	c.limit.left = maxResponseHeader
	defer func() { c.limit.left = -1 }()
	if _, err := c.br.Peek(1); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, err
		}
		return nil, errors.Join(errNothingRead, err)
	}
	for {
		res := readPlainResponse(c.br, req)
		if res == nil {
			var err error
			if res, err = http.ReadResponse(c.br, req); err != nil {
				return nil, err
			}
		}
		code := res.StatusCode
		if code < 100 || code > 199 {
			return res, nil
		}
		if code == http.StatusSwitchingProtocols {
			return nil, errors.New("the backend switched protocols unasked")
		}
		if got1xx != nil {
			if err := got1xx(code, textproto.MIMEHeader(res.Header)); err != nil {
				return nil, err
			}
			c.limit.left = maxResponseHeader
		}
	}
}

// headerLimit fails reads once left bytes were read, while left is not
// negative: it bounds an answer's header, then lets its body through.
type headerLimit struct {
	r    io.Reader
	left int64
}

var errHeaderTooLong = errors.New("backend's answer header too long")

// Read reads within the limit.
func (l *headerLimit) Read(p []byte) (int, error) {
	if l.left < 0 {
		return l.r.Read(p)
	}
	if l.left == 0 {
		return 0, errHeaderTooLong
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// backendBody is an answer's body: read to its end, it gives its
// connection back for the next call; closed before, or aborted, it closes
// it (reading what is left could wait on a stalled backend).
type backendBody struct {
	body  io.ReadCloser
	c     *backendConn
	reuse bool
	stop  func() bool
	done  bool
	// ended: finish or abort came first (the reads and the stall watch
	// are apart: the one that comes second does nothing).
	ended atomic.Bool
	// buffered: the whole body (its Content-Length) came in the read of
	// the header, and is in the connection's buffer.
	buffered bool
}

// inMemory reports whether reading the body to its end waits for nothing.
func (b *backendBody) inMemory() bool { return b.buffered }

// Read reads the body.
func (b *backendBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.finish(b.reuse)
	}
	return n, err
}

// Close ends the body.
func (b *backendBody) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

func (b *backendBody) finish(reuse bool) {
	b.done = true
	// A cancellation or an abort that came first has set a deadline that
	// has passed: the connection cannot serve another call.
	if b.stop() && b.ended.CompareAndSwap(false, true) && reuse {
		b.c.t.put(b.c)
		return
	}
	b.c.Close()
}

// abort ends the body's reads at once, unless it has ended.
func (b *backendBody) abort() {
	if b.ended.CompareAndSwap(false, true) {
		b.c.abortIO()
	}
}
