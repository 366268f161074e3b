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
	"slices"
	"sync"
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
// retrying a call that cannot be replayed.
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
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	for {
		c, reused, err := t.conn(req.Context(), addr)
		if err != nil {
			return nil, err
		}
		res, err := c.exchange(req, t.headerTimeout)
		if err == nil {
			return res, nil
		}
		c.Close()
		// A backend may close a kept-alive connection just as it is
		// taken: a call that got nothing back from it is sent again, on a
		// new one (the calls here can be replayed, see plainCall).
		if !reused || !errors.Is(err, errNothingRead) || req.Context().Err() != nil {
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
// on a fresh connection (RFC 9110 §9.2.2), no protocol upgrade, and a
// header http.Transport would send as it is (else it says what is wrong).
func plainCall(req *http.Request) bool {
	if req.URL.Scheme != "http" || (req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0 ||
		req.Close || len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 || req.URL.Host == "" || req.Host != "" {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	for name, values := range req.Header {
		if name == "Connection" || name == "Upgrade" || name == "Expect" || !httpguts.ValidHeaderFieldName(name) {
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
}

// errNothingRead is a call that failed before anything came back on its
// connection.
var errNothingRead = errors.New("backend closed the connection before answering")

// aLongTimeAgo is a deadline that has passed: setting it ends a blocked
// read or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// exchange writes req and reads the answer's header; the body is read as
// the caller reads the answer's.
func (c *backendConn) exchange(req *http.Request, headerTimeout time.Duration) (*http.Response, error) {
	ctx := req.Context()
	// Cancelling the call (the caller went away, the backend stalled)
	// ends whatever the connection is waiting for.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(aLongTimeAgo) })
	if err := c.writeRequest(req); err != nil {
		stop()
		return nil, errors.Join(errNothingRead, err)
	}
	if err := c.SetReadDeadline(time.Now().Add(headerTimeout)); err != nil {
		stop()
		return nil, err
	}
	res, err := c.readResponse(req)
	if err == nil {
		err = c.SetReadDeadline(time.Time{})
	}
	if err != nil {
		stop()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, err
	}
	res.Body = &backendBody{body: res.Body, c: c, reuse: !res.Close, stop: stop}
	return res, nil
}

// writeRequest writes the request's line and header, as http.Transport
// would: Host from the URL, a User-Agent only when it has a value, the
// rest of the header as it is.
func (c *backendConn) writeRequest(req *http.Request) error {
	w := c.bw
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(req.URL.Host)
	w.WriteString("\r\n")
	if ua := req.Header.Get("User-Agent"); ua != "" {
		w.WriteString("User-Agent: ")
		w.WriteString(ua)
		w.WriteString("\r\n")
	} else if _, set := req.Header["User-Agent"]; !set {
		w.WriteString("User-Agent: Go-http-client/1.1\r\n")
	}
	for name, values := range req.Header {
		switch name {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		for _, v := range values {
			w.WriteString(name)
			w.WriteString(": ")
			w.WriteString(textproto.TrimString(v))
			w.WriteString("\r\n")
		}
	}
	w.WriteString("\r\n")
	return w.Flush()
}

// readResponse reads the answer's header, passing 1xx informational
// answers to the call's httptrace.ClientTrace (ReverseProxy forwards them;
// as in http.Transport, each one passed on starts the header's bound
// again, and a 101 nobody asked for is an error here, one ReverseProxy
// reports there).
func (c *backendConn) readResponse(req *http.Request) (*http.Response, error) {
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
		res, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, err
		}
		code := res.StatusCode
		if code < 100 || code > 199 {
			return res, nil
		}
		if code == http.StatusSwitchingProtocols {
			return nil, errors.New("the backend switched protocols unasked")
		}
		if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(res.Header)); err != nil {
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
// connection back for the next call; closed before, it closes it (reading
// what is left could wait on a stalled backend).
type backendBody struct {
	body  io.ReadCloser
	c     *backendConn
	reuse bool
	stop  func() bool
	done  bool
}

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
	// A cancellation that came first has set a deadline that has passed:
	// the connection cannot serve another call.
	if b.stop() && reuse {
		b.c.t.put(b.c)
		return
	}
	b.c.Close()
}
