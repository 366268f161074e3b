package lane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The lane's tests run every call through a lane.Server and through a
// plain net/http server with the same handler, and require the same
// bytes back: the issue holds the lane to net/http's behaviour.

// quiet is the servers' error log: panics and refusals are expected.
var quiet = log.New(io.Discard, "", 0)

// takes is the lane's Takes in the tests: every path but /refused.
func takes(path string) bool { return !strings.HasPrefix(path, "/refused") }

// notes records, per server, what its handler saw, in order.
type notes struct {
	mu   sync.Mutex
	list []string
}

func (n *notes) add(format string, args ...any) {
	n.mu.Lock()
	n.list = append(n.list, fmt.Sprintf(format, args...))
	n.mu.Unlock()
}

func (n *notes) get() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.list)
}

// writerTypes are the types of the response writers the handler saw.
func (n *notes) writerTypes() []string {
	var types []string
	for _, s := range n.get() {
		if t, ok := strings.CutPrefix(s, "writer "); ok {
			types = append(types, t)
		}
	}
	return types
}

// others are the notes but the writer types, which differ by design.
func (n *notes) others() []string {
	var rest []string
	for _, s := range n.get() {
		if !strings.HasPrefix(s, "writer ") {
			rest = append(rest, s)
		}
	}
	return rest
}

// recording wraps h to note the type of each response writer.
func recording(n *notes, h func(n *notes, w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.add("writer %T", w)
		h(n, w, r)
	})
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveNetHTTP serves h with net/http alone and returns its address.
func serveNetHTTP(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln := listen(t)
	if srv.ErrorLog == nil {
		srv.ErrorLog = quiet
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// serveLane serves through a lane in front of srv; configure, if not nil,
// sets the lane's other fields. It returns the lane, its address and
// what Serve returned, once it has.
func serveLane(t *testing.T, srv *http.Server, configure func(*Server)) (*Server, string, <-chan error) {
	t.Helper()
	ln := listen(t)
	if srv.ErrorLog == nil {
		srv.ErrorLog = quiet
	}
	s := &Server{HTTP: srv, Takes: takes}
	if configure != nil {
		configure(s)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, ln.Addr().String(), served
}

// step is what a client sends, then the answers it reads.
type step struct {
	send string
	// The methods of the requests whose answers follow, in order;
	// "interim" reads a single 1xx answer, "echo:N" N raw bytes.
	read []string
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: example.com\r\n\r\n"
}

// dial connects to addr, plain.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange runs the steps on c and tells what came back: each answer's
// status, body and trailers or the error that ended the reading, whether
// the connection was then closed, and the raw bytes received, Date values
// of the current time normalised.
func exchange(c net.Conn, steps ...step) string {
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &raw))
	var out strings.Builder
	c.SetDeadline(time.Now().Add(10 * time.Second))
	ended := false
	for _, s := range steps {
		if _, err := io.WriteString(c, s.send); err != nil {
			fmt.Fprintf(&out, "write: %s\n", errClass(err))
			ended = true
			break
		}
		for _, m := range s.read {
			if err := readAnswer(br, m, &out); err != nil {
				fmt.Fprintf(&out, "read: %s\n", errClass(err))
				ended = true
				break
			}
		}
		if ended {
			break
		}
	}
	if !ended {
		// Closed, or open and silent?
		c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		_, err := io.Copy(io.Discard, br)
		fmt.Fprintf(&out, "then: %s\n", errClass(err))
	}
	fmt.Fprintf(&out, "raw:\n%s", dates.ReplaceAll(raw.Bytes(), []byte("Date: NOW\r")))
	return out.String()
}

// dates are Date values of these years: a handler's own Date stays.
var dates = regexp.MustCompile(`Date: \w{3}, \d\d \w{3} 20\d\d \d\d:\d\d:\d\d GMT\r`)

// readAnswer reads the answer to a request of method m.
func readAnswer(br *bufio.Reader, m string, out *strings.Builder) error {
	if n, ok := strings.CutPrefix(m, "echo:"); ok {
		var size int
		fmt.Sscan(n, &size)
		b := make([]byte, size)
		_, err := io.ReadFull(br, b)
		fmt.Fprintf(out, "echo %q\n", b)
		return err
	}
	for {
		method := m
		if m == "interim" {
			method = http.MethodPost
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "status %d close=%v\n", resp.StatusCode, resp.Close)
		if resp.StatusCode >= 100 && resp.StatusCode <= 199 && resp.StatusCode != http.StatusSwitchingProtocols {
			if m == "interim" {
				return nil
			}
			continue
		}
		body, err := io.ReadAll(resp.Body)
		fmt.Fprintf(out, "body %q trailer %v\n", body, resp.Trailer)
		return err
	}
}

// errClass names an error the same way whichever way a closed
// connection shows.
func errClass(err error) string {
	switch {
	case err == nil: // io.Copy's EOF
		return "closed"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "open"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		// http.ReadResponse's EOF is unexpected; a closed connection
		// written to may reset instead. The raw bytes tell the rest.
		return "closed"
	}
	return err.Error()
}

// both runs the same steps against a plain net/http server and a lane in
// front of another, each with its own instance of handler, and requires
// the same outcome. It returns the notes of each.
func both(t *testing.T, handler func(n *notes, w http.ResponseWriter, r *http.Request), steps ...step) (netNotes, laneNotes *notes) {
	t.Helper()
	netNotes, laneNotes = &notes{}, &notes{}
	netAddr := serveNetHTTP(t, &http.Server{Handler: recording(netNotes, handler)})
	_, laneAddr, _ := serveLane(t, &http.Server{Handler: recording(laneNotes, handler)}, nil)
	// The servers' own addresses are the one thing expected to differ
	// (ephemeral ports: the same length).
	want := strings.ReplaceAll(exchange(dial(t, netAddr), steps...), netAddr, "ADDR")
	got := strings.ReplaceAll(exchange(dial(t, laneAddr), steps...), laneAddr, "ADDR")
	if got != want {
		t.Errorf("the lane and net/http differ:\n%s", diff(got, want))
	}
	g, w := laneNotes.others(), netNotes.others()
	for i := range g {
		g[i] = strings.ReplaceAll(g[i], laneAddr, "ADDR")
	}
	for i := range w {
		w[i] = strings.ReplaceAll(w[i], netAddr, "ADDR")
	}
	if !slices.Equal(g, w) {
		t.Errorf("the lane's handler noted %q, net/http's %q", g, w)
	}
	return netNotes, laneNotes
}

// diff shows where got (the lane's) first differs from want (net/http's),
// long lines cut.
func diff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	cut := func(lines []string) string {
		lines = lines[max(i-3, 0):min(i+4, len(lines))]
		for k, l := range lines {
			if len(l) > 120 {
				lines[k] = l[:120] + "…"
			}
		}
		return strings.Join(lines, "\n")
	}
	return fmt.Sprintf("from line %d, lane:\n%s\nnet/http:\n%s", i+1, cut(g), cut(w))
}

// setThenWrite is a handler that sets the header fields kv (name, value,
// name, value…) and writes body.
func setThenWrite(body string, kv ...string) func(*notes, http.ResponseWriter, *http.Request) {
	return func(n *notes, w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		write(n, w, body)
	}
}

// write writes s with io.WriteString and notes the outcome.
func write(n *notes, w http.ResponseWriter, s string) {
	k, err := io.WriteString(w, s)
	n.add("wrote %d: %v", k, err)
}

// onlyReader hides a reader's WriteTo, so that io.Copy uses the
// writer's ReadFrom.
type onlyReader struct{ io.Reader }

const laneWriter, netWriter = "*lane.response", "*http.response"

func TestLaneWritesAsNetHTTP(t *testing.T) {
	large := strings.Repeat("0123456789abcdef", 100) // 1600 bytes
	type handler = func(n *notes, w http.ResponseWriter, r *http.Request)
	for _, tc := range []struct {
		name string
		h    handler
	}{
		{"small body, no Content-Length", func(n *notes, w http.ResponseWriter, r *http.Request) {
			write(n, w, "<html><body>hello</body></html>")
		}},
		{"body over 2 KiB, chunked", func(n *notes, w http.ResponseWriter, r *http.Request) {
			write(n, w, large)
			write(n, w, large)
			write(n, w, "tail")
		}},
		{"one write over 2 KiB", func(n *notes, w http.ResponseWriter, r *http.Request) {
			write(n, w, large+large+large)
		}},
		{"one Write of bytes over 2 KiB", func(n *notes, w http.ResponseWriter, r *http.Request) {
			k, err := w.Write([]byte(large + large))
			n.add("wrote %d: %v", k, err)
		}},
		{"io.Copy of a small body", func(n *notes, w http.ResponseWriter, r *http.Request) {
			k, err := io.Copy(w, onlyReader{strings.NewReader("<html>small</html>")})
			n.add("copied %d: %v", k, err)
		}},
		{"io.Copy of a large body", func(n *notes, w http.ResponseWriter, r *http.Request) {
			k, err := io.Copy(w, onlyReader{strings.NewReader(large + large + large)})
			n.add("copied %d: %v", k, err)
		}},
		{"io.Copy of a large body with a Content-Length", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(3*len(large)))
			k, err := io.Copy(w, onlyReader{strings.NewReader(large + large + large)})
			n.add("copied %d: %v", k, err)
		}},
		{"explicit Content-Length", setThenWrite("hello", "Content-Length", "5")},
		{"invalid Content-Length", setThenWrite("hello", "Content-Length", "five")},
		{"Content-Length exceeded", setThenWrite("hello", "Content-Length", "2")},
		{"Content-Length larger than written", setThenWrite("short", "Content-Length", "10")},
		{"flush in the middle", func(n *notes, w http.ResponseWriter, r *http.Request) {
			write(n, w, "first")
			w.(http.Flusher).Flush()
			write(n, w, "second")
		}},
		{"flush through ResponseController", func(n *notes, w http.ResponseWriter, r *http.Request) {
			write(n, w, "first")
			n.add("flush: %v", http.NewResponseController(w).Flush())
			write(n, w, "second")
		}},
		{"ResponseController write deadline and full duplex", func(n *notes, w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			n.add("write deadline: %v", rc.SetWriteDeadline(time.Now().Add(time.Minute)))
			n.add("full duplex: %v", rc.EnableFullDuplex())
			write(n, w, "ok")
			n.add("no write deadline: %v", rc.SetWriteDeadline(time.Time{}))
		}},
		{"flush before anything", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
		}},
		{"103 Early Hints then 200", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Content-Type", "text/css")
			write(n, w, "body{}")
		}},
		{"two 1xx", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusProcessing)
			w.Header().Set("Content-Length", "3") // not sent with a 1xx
			w.Header().Set("X-Step", "2")
			w.WriteHeader(http.StatusEarlyHints)
			write(n, w, "abc")
		}},
		{"100 Continue from the handler", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusContinue)
			write(n, w, "after 100")
		}},
		{"101 without a hijack", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Upgrade", "echo")
			w.Header().Set("Connection", "Upgrade")
			w.WriteHeader(http.StatusSwitchingProtocols)
			write(n, w, "x")
		}},
		{"204 with a write and a Content-Length", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			w.Header().Set("Transfer-Encoding", "chunked")
			w.WriteHeader(http.StatusNoContent)
			write(n, w, "abc")
		}},
		{"304 with a Content-Type", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Etag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		}},
		{"trailers declared in Trailer", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum, x-other,Content-Length")
			write(n, w, "body")
			w.Header().Set("X-Sum", "1")
			w.Header().Add("X-Other", "2")
			w.Header().Add("X-Other", "3")
		}},
		{"trailers with TrailerPrefix", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set(http.TrailerPrefix+"X-Early", "0")
			write(n, w, "body")
			w.Header().Set(http.TrailerPrefix+"X-Late", "3")
		}},
		{"handler sets Connection: close", setThenWrite("bye", "Connection", "close")},
		{"handler sets Connection: keep-alive, close", setThenWrite("bye", "Connection", "keep-alive, close")},
		{"no write at all", func(n *notes, w http.ResponseWriter, r *http.Request) {}},
		{"header changed after WriteHeader", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Before", "1")
			w.WriteHeader(http.StatusCreated)
			w.Header().Set("X-Before", "2")
			w.Header().Set("X-After", "1")
			write(n, w, "created")
		}},
		{"header first taken after WriteHeader", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.Header().Set("X-After", "1")
			write(n, w, "accepted")
		}},
		{"status 599", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(599)
			write(n, w, "odd")
		}},
		{"empty Content-Type key", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			write(n, w, "<html></html>")
		}},
		{"Content-Encoding set", setThenWrite("\x1f\x8b\x08\x00", "Content-Encoding", "gzip")},
		{"Transfer-Encoding identity", setThenWrite("until close", "Transfer-Encoding", "identity")},
		{"Transfer-Encoding chunked with Content-Length", setThenWrite("hello", "Transfer-Encoding", "chunked", "Content-Length", "5")},
		{"WriteHeader twice", func(n *notes, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusInternalServerError)
			write(n, w, "x")
		}},
		{"WriteHeader with an invalid code after the header", func(n *notes, w http.ResponseWriter, r *http.Request) {
			write(n, w, "x")
			w.WriteHeader(0)
		}},
		{"Date set by the handler", setThenWrite("old", "Date", "Sun, 06 Nov 1994 08:49:37 GMT")},
		{"panic", func(n *notes, w http.ResponseWriter, r *http.Request) {
			write(n, w, "partial")
			panic("boom")
		}},
		{"panic after a chunk went out", func(n *notes, w http.ResponseWriter, r *http.Request) {
			write(n, w, large+large)
			panic("boom")
		}},
		{"panic with ErrAbortHandler", func(n *notes, w http.ResponseWriter, r *http.Request) {
			panic(http.ErrAbortHandler)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := get("/case")
			netNotes, laneNotes := both(t, tc.h, step{req, []string{"GET"}}, step{req, []string{"GET"}})
			lane, net := laneNotes.writerTypes(), netNotes.writerTypes()
			if len(lane) == 0 || len(lane) != len(net) {
				t.Fatalf("handler ran %d times on the lane, %d on net/http", len(lane), len(net))
			}
			for _, typ := range lane {
				if typ != laneWriter {
					t.Errorf("served by %s, not the lane", typ)
				}
			}
		})
	}
}

// describe writes what a handler sees of its request.
func describe(n *notes, w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range r.Header {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	fmt.Fprintf(&b, "method %q\nurl %q path %q rawpath %q rawquery %q\n", r.Method, r.URL.String(), r.URL.Path, r.URL.RawPath, r.URL.RawQuery)
	fmt.Fprintf(&b, "proto %q %d.%d host %q uri %q\n", r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.RequestURI)
	for _, k := range keys {
		fmt.Fprintf(&b, "header %q: %q\n", k, r.Header[k])
	}
	fmt.Fprintf(&b, "length %d close %v te %q nobody %v tls %v trailer %v remote %q\n", r.ContentLength, r.Close,
		r.TransferEncoding, r.Body == http.NoBody, r.TLS != nil, r.Trailer, host)
	fmt.Fprintf(&b, "server %v local %v\n", r.Context().Value(http.ServerContextKey) != nil, r.Context().Value(http.LocalAddrContextKey))
	n.add("%s", b.String())
	w.Header().Set("Content-Length", fmt.Sprint(b.Len()))
	io.WriteString(w, b.String())
}

func TestLaneReadsAsNetHTTP(t *testing.T) {
	for _, tc := range []struct{ name, req string }{
		{"plain", get("/v1/items")},
		{"mixed-case and lower-case names", "GET /a HTTP/1.1\r\nhost: example.com\r\nuser-AGENT: x\r\nACCEPT: */*\r\nx-custom-thing: 1\r\ndpop: p\r\n\r\n"},
		{"repeated fields", "GET /a HTTP/1.1\r\nHost: example.com\r\nAccept: a\r\nX-Many: 1\r\naccept: b\r\nX-Many: 2\r\nx-many: 3\r\n\r\n"},
		{"Pragma: no-cache", "GET /a HTTP/1.1\r\nHost: example.com\r\nPragma: no-cache\r\n\r\n"},
		{"Pragma: no-cache with Cache-Control", "GET /a HTTP/1.1\r\nHost: example.com\r\nCache-Control: max-age=1\r\nPragma: no-cache\r\n\r\n"},
		{"Pragma: other", "GET /a HTTP/1.1\r\nHost: example.com\r\nPragma: No-Cache\r\n\r\n"},
		{"percent-encoded path", get("/a%2Fb/c%20d/%7Euser/%e2%82%ac")},
		{"odd queries", get("/a?x=1&x=2&&y&=z&q=a%20b+c;d#frag")},
		{"empty query", get("/a?")},
		{"double slash", get("//a//b/")},
		{"dot segments", get("/a/../b/./c")},
		{"Connection: keep-alive", "GET /a HTTP/1.1\r\nHost: example.com\r\nConnection: Keep-Alive\r\n\r\n"},
		{"spaces and tabs around values", "GET /a HTTP/1.1\r\nHost:   example.com \t\r\nX-A:\t\tv a l \r\nX-Empty:\r\nX-Blank:   \r\n\r\n"},
		{"obs-text in a value", "GET /a HTTP/1.1\r\nHost: example.com\r\nX-Latin: caf\xe9 \x80\xff\r\n\r\n"},
		{"host with port", "GET /a HTTP/1.1\r\nHost: example.com:8443\r\n\r\n"},
		{"empty Host", "GET /a HTTP/1.1\r\nHost:\r\n\r\n"},
		{"IPv6 host", "GET /a HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			netNotes, laneNotes := both(t, describe, step{tc.req, []string{"GET"}}, step{get("/again"), []string{"GET"}})
			checkServed(t, laneNotes, laneWriter, laneWriter)
			checkServed(t, netNotes, netWriter, netWriter)
		})
	}
}

// checkServed requires the handler to have seen these response writers.
func checkServed(t *testing.T, n *notes, want ...string) {
	t.Helper()
	if got := n.writerTypes(); !slices.Equal(got, want) {
		t.Errorf("served by %q, want %q", got, want)
	}
}

// echo answers with the request's method, protocol, target and body; an
// Upgrade request takes the connection over and echoes what follows, as
// a WebSocket proxy would.
func echo(n *notes, w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "" {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			n.add("hijack: %v", err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		io.Copy(conn, rw)
		return
	}
	body, err := io.ReadAll(r.Body)
	n.add("body %q %v", body, err)
	fmt.Fprintf(w, "%s %s %s host %q body %q", r.Method, r.RequestURI, r.Proto, r.Host, body)
}

func TestLaneHandsOverAsNetHTTP(t *testing.T) {
	post := "POST /items HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello"
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"POST with a body", []step{{post, []string{"POST"}}}},
		{"HEAD", []step{{"HEAD /a HTTP/1.1\r\nHost: example.com\r\n\r\n", []string{"HEAD"}}}},
		{"OPTIONS", []step{{"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n", []string{"OPTIONS"}}}},
		{"HTTP/1.0", []step{{"GET /a HTTP/1.0\r\nHost: example.com\r\n\r\n", []string{"GET"}}}},
		{"HTTP/1.0 keep-alive", []step{{"GET /a HTTP/1.0\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n", []string{"GET"}}}},
		{"Connection: close", []step{{"GET /a HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", []string{"GET"}}}},
		{"upgrade", []step{
			{"GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", []string{"GET"}},
			{"ping", []string{"echo:4"}},
		}},
		{"Expect: 100-continue", []step{
			{"POST /items HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", []string{"interim"}},
			{"hello", []string{"POST"}},
		}},
		{"malformed request line", []step{{"GET /a  HTTP/1.1\r\nHost: example.com\r\n\r\n", []string{"GET"}}}},
		{"unknown version", []step{{"GET /a HTTP/1.2\r\nHost: example.com\r\n\r\n", []string{"GET"}}}},
		{"HTTP/2 version", []step{{"GET /a HTTP/2.0\r\nHost: example.com\r\n\r\n", []string{"GET"}}}},
		{"bad field name", []step{{"GET /a HTTP/1.1\r\nHost: example.com\r\nBad Name: x\r\n\r\n", []string{"GET"}}}},
		{"space before the colon", []step{{"GET /a HTTP/1.1\r\nHost: example.com\r\nX-A : x\r\n\r\n", []string{"GET"}}}},
		{"control character in a value", []step{{"GET /a HTTP/1.1\r\nHost: example.com\r\nX-A: a\x01b\r\n\r\n", []string{"GET"}}}},
		{"obsolete line folding", []step{{"GET /a HTTP/1.1\r\nHost: example.com\r\nX-A: a\r\n b\r\n\r\n", []string{"GET"}}}},
		{"two Host fields", []step{{"GET /a HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", []string{"GET"}}}},
		{"missing Host", []step{{"GET /a HTTP/1.1\r\nAccept: */*\r\n\r\n", []string{"GET"}}}},
		{"malformed Host", []step{{"GET /a HTTP/1.1\r\nHost: a b\r\n\r\n", []string{"GET"}}}},
		{"absolute target", []step{{"GET http://other.example/a HTTP/1.1\r\nHost: example.com\r\n\r\n", []string{"GET"}}}},
		{"header over 4 KiB", []step{{"GET /a HTTP/1.1\r\nHost: example.com\r\nX-Big: " + strings.Repeat("b", 5000) + "\r\n\r\n", []string{"GET"}}}},
		{"path Takes refuses", []step{{get("/refused/x"), []string{"GET"}}}},
		{"chunked body", []step{{"POST /items HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", []string{"POST"}}}},
		{"GET with a Content-Length", []step{{"GET /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\nhi", []string{"GET"}}}},
		{"bare LF line ends", []step{{"GET /a HTTP/1.1\nHost: example.com\n\n", []string{"GET"}}}},
		{"bare LF in the header", []step{{"GET /a HTTP/1.1\r\nHost: example.com\nX-A: b\r\n\r\n", []string{"GET"}}}},
		{"header cut by the caller", []step{{"GET /a HTTP/1.1\r\nHost: exa", nil}}},
		{"later requests after a hand-over", []step{
			{post, []string{"POST"}},
			{get("/after"), []string{"GET"}},
		}},
		{"pipelined GETs and a POST", []step{{get("/1") + get("/2") + post + get("/3"), []string{"GET", "GET", "POST", "GET"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			both(t, echo, tc.steps...)
		})
	}
}

// TestLaneHandsOverForGood: once the lane has handed a connection over,
// net/http serves all of it; before, the lane serves plain calls.
func TestLaneHandsOverForGood(t *testing.T) {
	post := "POST /items HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello"
	_, laneNotes := both(t, echo, step{get("/1") + get("/2") + post + get("/3"), []string{"GET", "GET", "POST", "GET"}},
		step{get("/4"), []string{"GET"}})
	checkServed(t, laneNotes, laneWriter, laneWriter, netWriter, netWriter, netWriter)
}
