package web

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Slow clients. http.Server bounds the wait for a request's headers
// (ReadHeaderTimeout, also the TLS handshake's) and for the next request on
// an idle connection (IdleTimeout), but not for a body: a client could send
// a form one byte a minute and hold a connection and a handler for ever.
// bodyDeadline bounds that on the store and the OAuth endpoints (the
// gateway bounds each pause of a body it forwards, see gateway.Config), and
// limitConns bounds how many connections one address may hold at once.

// errBodyTimeout is the answer to a form that did not arrive in time.
var errBodyTimeout = echo.NewHTTPError(http.StatusRequestTimeout,
	"The request took too long to arrive. Check your connection and try again.")

// bodyDeadline gives a request's body timeout from the handler's start to
// arrive in full; a read past it fails, and the answer is 408 Request
// Timeout (an OAuth endpoint says so in its own error format, see
// handlers.readForm). timeout <= 0 sets none.
func bodyDeadline(timeout time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if timeout <= 0 || req.Body == nil || req.Body == http.NoBody {
				return next(c)
			}
			rc := http.NewResponseController(c.Response())
			if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
				return next(c) // a connection without deadlines (tests' recorders)
			}
			body := &deadlineBody{ReadCloser: req.Body, rc: rc}
			req.Body = body
			err := next(c)
			if !body.timedOut {
				body.clear()
				return err
			}
			// The deadline stays: net/http reads what is left of a body
			// before it answers, and would otherwise wait for the rest of
			// this one; with the deadline passed it gives up and closes the
			// connection after the answer.
			if !c.Response().Committed {
				c.Response().Header().Set("Connection", "close")
				return errBodyTimeout
			}
			return err
		}
	}
}

// deadlineBody notes when a read failed on the deadline, and lifts the
// deadline once the body is read: net/http goes on reading the connection
// in the background while the handler runs (to notice a client that
// leaves), and a deadline passing then would cancel the request.
type deadlineBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	once     sync.Once
	timedOut bool
}

// Read reads the body, noting a timeout and lifting the deadline at its end.
func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut = true
	case err == io.EOF:
		b.clear()
	}
	return n, err
}

func (b *deadlineBody) clear() {
	b.once.Do(func() { _ = b.rc.SetReadDeadline(time.Time{}) })
}

// limitConns wraps a listener so that one client address holds at most max
// connections at once; more are closed as soon as they are accepted (a TLS
// listener has no way to answer before its handshake). An IPv6 address
// counts with its /64, which one host or subscriber usually holds.
// Addresses of trusted proxies are not limited: every client behind them
// shares their address. max <= 0 limits nothing.
func limitConns(ln net.Listener, max int, trusted []netip.Prefix) net.Listener {
	if max <= 0 {
		return ln
	}
	return &connLimiter{Listener: ln, max: max, trusted: trusted, open: map[netip.Addr]int{}}
}

type connLimiter struct {
	net.Listener
	max     int
	trusted []netip.Prefix

	mu   sync.Mutex
	open map[netip.Addr]int // connections open per address block
	full map[netip.Addr]bool
}

// Accept returns the next connection whose address has room.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, limited := l.block(c.RemoteAddr())
		if !limited {
			return c, nil
		}
		if l.take(key) {
			return &countedConn{Conn: c, release: sync.OnceFunc(func() { l.release(key) })}, nil
		}
		c.Close()
	}
}

// block is what a remote address counts as, and whether it is limited.
func (l *connLimiter) block(addr net.Addr) (netip.Addr, bool) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	a := tcp.AddrPort().Addr().Unmap()
	if slices.ContainsFunc(l.trusted, func(p netip.Prefix) bool { return p.Contains(a) }) {
		return a, false
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return a, true
}

// take counts a new connection of key, if it has room.
func (l *connLimiter) take(key netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.max {
		if !l.full[key] { // once per episode, not per refused connection
			if l.full == nil {
				l.full = map[netip.Addr]bool{}
			}
			l.full[key] = true
			slog.Warn("connections refused: the address has as many open as --max-conns-per-address allows",
				"remote", key.String(), "open", l.open[key], "listener", l.Addr().String())
		}
		return false
	}
	l.open[key]++
	return true
}

func (l *connLimiter) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
	delete(l.full, key)
}

// countedConn gives its place back when closed.
type countedConn struct {
	net.Conn
	release func()
}

// Close closes the connection and frees its place (once, however often it
// is called).
func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
