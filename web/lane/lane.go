// Package lane serves the plain calls of HTTP/1.1 connections itself and
// hands every other connection to a net/http server.
//
// A plain call is a GET in HTTP/1.1 with no body, no upgrade and nothing
// unusual in its header, of a path the lane takes: an API call through
// the gateway. Such a call costs net/http's server more than the
// gateway's own checks (a goroutine woken by a background read that
// watches for the caller leaving, per-request buffers, the connection's
// state hooks). The lane reads the call from the connection's buffer,
// runs the same handler, and writes the answer as net/http would,
// byte for byte (see response.go).
//
// Any other request, or anything the lane does not read exactly as
// net/http would, hands the connection over for good, with every byte
// already read: net/http then serves it, refusals included, as if it had
// accepted it itself. HTTP/2, chosen during the TLS handshake, goes over
// at once.
package lane

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Server is one listener's lane in front of its net/http server.
type Server struct {
	// HTTP serves the connections the lane hands over, and gives the lane
	// its Handler, BaseContext, ConnContext, ReadHeaderTimeout,
	// IdleTimeout (else ReadTimeout, as net/http) and ErrorLog.
	HTTP *http.Server
	// TLS makes every connection a TLS server connection; nil: plain.
	TLS *tls.Config
	// Takes reports whether the lane serves a GET of path itself.
	Takes func(path string) bool
	// WatchAfter is how long a call may run before the lane starts
	// watching its connection for the caller leaving, which cancels the
	// call's context as net/http does; 0: 100 ms.
	WatchAfter time.Duration

	handoff  *handoff
	base     context.Context
	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	closing  atomic.Bool
	finished chan struct{}
}

// ErrServerClosed is what Serve returns after Shutdown.
var ErrServerClosed = http.ErrServerClosed

// Serve accepts connections on ln until Shutdown or an error, as
// http.Server.Serve does.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.ln = ln
	s.conns = map[*conn]struct{}{}
	s.handoff = &handoff{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
	s.finished = make(chan struct{})
	base := context.Background()
	if s.HTTP.BaseContext != nil {
		base = s.HTTP.BaseContext(ln)
	}
	s.base = context.WithValue(base, http.ServerContextKey, s.HTTP)
	s.mu.Unlock()
	defer close(s.finished)

	served := make(chan error, 1)
	go func() { served <- s.HTTP.Serve(s.handoff) }()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// As net/http: back off on a transient failure.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			s.handoff.Close()
			<-served
			return err
		}
		delay = 0
		go s.serveConn(c)
	}
}

// Shutdown stops accepting, closes idle connections, and waits for the
// calls being served to end or ctx to be done, as http.Server.Shutdown
// does; it shuts the net/http server down too.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return s.HTTP.Shutdown(ctx)
	}
	ln.Close()
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.HTTP.Shutdown(ctx) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !s.closeIdle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return <-httpDone
}

// closeIdle closes the connections waiting for a call, and reports
// whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.rw.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) track(c *conn, add bool) {
	s.mu.Lock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	s.mu.Unlock()
}

func (s *Server) logf(format string, args ...any) {
	if s.HTTP.ErrorLog != nil {
		s.HTTP.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// The states of a connection, for Shutdown.
const (
	stateIdle int32 = iota
	stateActive
	stateClosed
)

// conn is one connection the lane serves.
type conn struct {
	srv        *Server
	rw         net.Conn // the TLS connection, or the plain one
	br         *bufio.Reader
	bw         *bufio.Writer
	ctx        context.Context
	remoteAddr string
	tlsState   *tls.ConnectionState
	state      atomic.Int32
	watch      watcher
	res        response
}

// Buffer sizes: net/http's own for reading and writing a connection.
const (
	readSize  = 4 << 10
	writeSize = 4 << 10
)

var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readSize) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeSize) }}
)

// serveConn shakes hands if TLS, then serves the connection's calls until
// it closes, idles out, or is handed over.
func (s *Server) serveConn(raw net.Conn) {
	c := &conn{srv: s, rw: raw}
	if s.TLS != nil {
		tc, ok := s.handshake(raw)
		if !ok {
			return
		}
		state := tc.ConnectionState()
		if state.NegotiatedProtocol != "" && state.NegotiatedProtocol != "http/1.1" {
			s.handoff.give(tc) // HTTP/2: net/http's own
			return
		}
		c.rw, c.tlsState = tc, &state
	}
	if s.closing.Load() {
		c.rw.Close()
		return
	}
	if ra := raw.RemoteAddr(); ra != nil {
		c.remoteAddr = ra.String()
	}
	c.ctx = context.WithValue(s.base, http.LocalAddrContextKey, raw.LocalAddr())
	if s.HTTP.ConnContext != nil {
		c.ctx = s.HTTP.ConnContext(c.ctx, c.rw)
	}
	c.watch.init(c)
	c.br = readers.Get().(*bufio.Reader)
	c.br.Reset(&c.watch)
	c.bw = writers.Get().(*bufio.Writer)
	c.bw.Reset(c.rw)
	s.track(c, true)
	defer s.track(c, false)
	if handed := c.serve(); handed {
		return
	}
	// As net/http's close: what the connection's buffer holds (a
	// panicking handler's chunks) goes out first.
	c.bw.Flush()
	c.rw.Close()
	c.release()
}

// handshake runs the TLS handshake within the header timeout, and
// answers a plain HTTP request as net/http does.
func (s *Server) handshake(raw net.Conn) (*tls.Conn, bool) {
	tc := tls.Server(raw, s.TLS)
	timeout := s.HTTP.ReadHeaderTimeout
	if timeout > 0 {
		deadline := time.Now().Add(timeout)
		raw.SetReadDeadline(deadline)
		raw.SetWriteDeadline(deadline)
	}
	if err := tc.HandshakeContext(s.base); err != nil {
		reason := err.Error()
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			re.Conn.Close()
			reason = "client sent an HTTP request to an HTTPS server"
		}
		s.logf("http: TLS handshake error from %s: %v", raw.RemoteAddr(), reason)
		raw.Close()
		return nil, false
	}
	if timeout > 0 {
		raw.SetReadDeadline(time.Time{})
		raw.SetWriteDeadline(time.Time{})
	}
	return tc, true
}

// looksLikeHTTP is net/http's test of a TLS record header.
func looksLikeHTTP(h [5]byte) bool {
	switch string(h[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// release gives the buffers back.
func (c *conn) release() {
	c.br.Reset(nil)
	readers.Put(c.br)
	c.bw.Reset(nil)
	writers.Put(c.bw)
	c.br, c.bw = nil, nil
}

// serve serves calls until the connection ends (false) or is handed
// over (true).
func (c *conn) serve() (handed bool) {
	s := c.srv
	for first := true; ; first = false {
		// As net/http: the first call's header is timed from the start,
		// a next call waits the idle timeout (IdleTimeout, else
		// ReadTimeout; none: for ever), its header timed from its first
		// byte (readHead).
		wait := s.HTTP.ReadHeaderTimeout
		if !first {
			wait = cmp.Or(s.HTTP.IdleTimeout, s.HTTP.ReadTimeout)
		}
		if wait > 0 {
			c.rw.SetReadDeadline(time.Now().Add(wait))
		} else if !first {
			c.rw.SetReadDeadline(time.Time{}) // the last call's header timeout
		}
		if _, err := c.br.Peek(1); err != nil {
			return false
		}
		if !c.state.CompareAndSwap(stateIdle, stateActive) {
			return false
		}
		head, err := c.readHead(!first)
		var req *http.Request
		if err == nil && head != nil {
			req = c.parse(head)
		}
		if req == nil {
			// A read that failed with nothing read, or on the header
			// timeout, ends the connection unanswered, as in net/http;
			// another failure (the caller's EOF mid-header) is for
			// net/http to answer, with what was read.
			if err != nil && (c.br.Buffered() == 0 || errors.Is(err, os.ErrDeadlineExceeded)) {
				return false
			}
			c.handOver()
			return true
		}
		c.br.Discard(len(head))
		keep := c.serveCall(req)
		if !keep || s.closing.Load() || !c.state.CompareAndSwap(stateActive, stateIdle) {
			return false
		}
	}
}

// readHead returns the next request's header, request line to blank
// line, from the buffer without consuming it; nil if it does not fit.
func (c *conn) readHead(timed bool) ([]byte, error) {
	for n := c.br.Buffered(); ; n = c.br.Buffered() {
		buf, _ := c.br.Peek(n)
		end := headerEnd(buf)
		if end > 0 {
			return buf[:end], nil
		}
		if end < 0 || n == c.br.Size() {
			return nil, nil
		}
		if timed {
			// The header timeout runs from the call's first byte.
			if t := c.srv.HTTP.ReadHeaderTimeout; t > 0 {
				c.rw.SetReadDeadline(time.Now().Add(t))
			}
			timed = false
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			return nil, err
		}
	}
}

// serveCall runs the handler for one call and finishes its answer. It
// reports whether the connection may serve another.
func (c *conn) serveCall(req *http.Request) (keep bool) {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	req = req.WithContext(ctx)
	w := &c.res
	w.reset(c, req)
	if !c.run(w, req, cancel) {
		return false
	}
	w.finish()
	return w.reusable() && !c.watch.left
}

// run calls the handler, watching for the caller leaving if it runs
// long, and recovers a panic as net/http does: the connection is then
// closed, the answer unfinished.
func (c *conn) run(w *response, req *http.Request, cancel context.CancelFunc) (ok bool) {
	c.watch.arm(cancel)
	defer func() {
		c.watch.disarm()
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				const size = 64 << 10
				buf := make([]byte, size)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.logf("http: panic serving %v: %v\n%s", c.remoteAddr, v, buf)
			}
			ok = false
		}
	}()
	c.srv.HTTP.Handler.ServeHTTP(w, req)
	return true
}

// handOver gives the connection to net/http with the bytes read but not
// yet served; the lane is done with it.
func (c *conn) handOver() {
	read, _ := c.br.Peek(c.br.Buffered()) // no I/O: what is buffered
	rest := bytes.Clone(read)
	c.srv.track(c, false)
	// Deadlines are net/http's to set from here on.
	c.rw.SetReadDeadline(time.Time{})
	h := &handedConn{Conn: c.rw, rest: rest}
	if c.tlsState != nil {
		c.srv.handoff.give(&tlsHandedConn{handedConn: h, state: *c.tlsState})
	} else {
		c.srv.handoff.give(h)
	}
	c.release()
}

// headerEnd is the length of the header at the start of buf, up to and
// including its blank line, or 0 if buf does not hold it all. A line
// ended by a bare LF, which net/http reads as a line end too, makes it -1:
// the lane does not wait for a CRLF that may never come.
func headerEnd(buf []byte) int {
	for i, ch := range buf {
		switch {
		case ch != '\n':
		case i == 0 || buf[i-1] != '\r':
			return -1
		case i >= 3 && buf[i-2] == '\n' && buf[i-3] == '\r':
			return i + 1
		}
	}
	return 0
}

// handedConn is a connection handed to net/http: the bytes the lane had
// read come first.
type handedConn struct {
	net.Conn
	rest []byte
}

func (h *handedConn) Read(p []byte) (int, error) {
	if len(h.rest) > 0 {
		n := copy(p, h.rest)
		h.rest = h.rest[n:]
		return n, nil
	}
	return h.Conn.Read(p)
}

// tlsHandedConn is a handed TLS connection: net/http takes its state for
// Request.TLS from ConnectionState.
type tlsHandedConn struct {
	*handedConn
	state tls.ConnectionState
}

func (t *tlsHandedConn) ConnectionState() tls.ConnectionState { return t.state }

// handoff is the listener net/http serves: the connections the lane gives
// it.
type handoff struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

// give hands c to net/http, or closes it if net/http no longer serves.
func (h *handoff) give(c net.Conn) {
	select {
	case h.conns <- c:
	case <-h.done:
		c.Close()
	}
}

// watcher is what the lane's reader reads the connection through. While a
// call runs longer than WatchAfter, it also reads the connection in the
// background, as net/http does for every call: a caller that leaves
// cancels the call's context, and a byte of a next call is kept for the
// reader.
type watcher struct {
	c      *conn
	timer  *time.Timer
	after  time.Duration
	cancel context.CancelFunc
	armed  bool
	done   chan struct{} // closed when a background read has ended

	// mu orders the background read's start against disarm: a read the
	// timer started but that has not yet cleared the deadline would
	// otherwise clear disarm's, and block until the caller sends.
	mu      sync.Mutex
	stopped bool // by disarm: a read not yet begun must not begin

	// Set by the background read, read once done is closed.
	pending    [1]byte
	hasPending bool
	left       bool // the caller closed the connection
}

func (w *watcher) init(c *conn) {
	w.c = c
	w.after = c.srv.WatchAfter
	if w.after <= 0 {
		w.after = 100 * time.Millisecond
	}
	w.done = make(chan struct{})
	w.timer = time.AfterFunc(time.Hour, w.read)
	w.timer.Stop()
}

// Read reads the connection, a byte the background read kept first.
func (w *watcher) Read(p []byte) (int, error) {
	if w.hasPending && len(p) > 0 {
		p[0] = w.pending[0]
		w.hasPending = false
		return 1, nil
	}
	return w.c.rw.Read(p)
}

// arm starts the clock on a call, unless a next call is already buffered
// (the caller cannot be seen to leave then, nor need it).
func (w *watcher) arm(cancel context.CancelFunc) {
	w.left = false
	w.armed = w.c.br.Buffered() == 0
	if w.armed {
		w.cancel = cancel
		w.timer.Reset(w.after)
	}
}

// read is the background read, started by the timer.
func (w *watcher) read() {
	defer close(w.done)
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.c.rw.SetReadDeadline(time.Time{})
	w.mu.Unlock()
	n, err := w.c.rw.Read(w.pending[:])
	w.hasPending = n == 1
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		w.left = true
		w.cancel()
	}
}

// disarm ends the watch when the handler returns; left then tells
// whether the caller has closed the connection.
func (w *watcher) disarm() {
	if !w.armed || w.timer.Stop() {
		return
	}
	// The background read runs, is about to, or has ended: end it and
	// wait.
	w.mu.Lock()
	w.stopped = true
	w.c.rw.SetReadDeadline(time.Unix(1, 0))
	w.mu.Unlock()
	<-w.done
	w.stopped = false
	w.done = make(chan struct{})
	// The past deadline must not outlive the read it ended: the lane
	// sets its own before reading only when a timeout is configured.
	w.c.rw.SetReadDeadline(time.Time{})
}
