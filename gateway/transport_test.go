package gateway_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/portal"
)

// transports are the two ways the gateway reaches a plain-HTTP backend: its
// own pooled HTTP/1.1 connections (bodiless GET, HEAD and OPTIONS calls)
// and http.Transport. The tests below run what the two carry differently
// through both, and expect the same.
var transports = []struct {
	name string
	cfg  func(gateway.Config) gateway.Config
}{
	{"own connections", func(c gateway.Config) gateway.Config { return c }},
	{"http.Transport", gateway.StandardTransport},
}

// oddBackend answers each path in a way a proxy's client must handle: by
// length, chunked, until it closes, closing a kept-alive connection
// without a word, late, after 1xx answers, with the header it got.
type oddBackend struct {
	*httptest.Server
	mu      sync.Mutex
	remotes map[string]bool // the connections calls came on
}

func newOddBackend(t *testing.T) *oddBackend {
	b := &oddBackend{remotes: map[string]bool{}}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

func (b *oddBackend) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.remotes[r.RemoteAddr] = true
	b.mu.Unlock()
	raw := func(answer string) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		rw.WriteString(answer)
		rw.Flush()
		conn.Close()
	}
	switch r.URL.Path {
	case "/length":
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	case "/chunked":
		for _, part := range []string{"he", "ll", "o"} {
			io.WriteString(w, part)
			w.(http.Flusher).Flush()
		}
	case "/until-close":
		// HTTP/1.0's way: no length, the end of the connection ends it.
		raw("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello")
	case "/closes":
		// Kept alive as far as the caller can tell, then closed.
		raw("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	case "/no-content":
		w.WriteHeader(http.StatusNoContent)
	case "/slow":
		time.Sleep(time.Second)
		io.WriteString(w, "late")
	case "/hints":
		w.Header().Set("Link", "</menu.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "hello")
	case "/many-hints":
		raw(strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", 10) + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	case "/answer-header":
		h := w.Header()
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "dropped")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Server", "backend/1.0")
		h["Set-Cookie"] = []string{"apistore_session=planted", "theirs=1"}
		h.Set("Location", "http://"+r.Host+"/moved?x=1")
		h.Add("X-Many", "a")
		h.Add("X-Many", "b")
		h.Set("Trailer", "X-Sum")
		io.WriteString(w, "hello")
		h.Set("X-Sum", "5")
	case "/events":
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Length", "9")
		io.WriteString(w, "data: 1\n\n")
	case "/header":
		names := make([]string, 0, len(r.Header))
		for name, values := range r.Header {
			names = append(names, name+"="+strings.Join(values, "|"))
		}
		slices.Sort(names)
		fmt.Fprintf(w, "%s %s %s\n%s", r.Method, r.Host, r.RequestURI, strings.Join(names, "\n"))
	default:
		http.NotFound(w, r)
	}
}

// oddEnv is a gateway over cfg serving an oddBackend's GET and OPTIONS at
// /odd/v1, and a token for it.
func oddEnv(t *testing.T, cfg gateway.Config) (*env, *oddBackend, string) {
	e := newEnv(t, cfg)
	b := newOddBackend(t)
	api := &portal.API{Name: "Odd", Version: "v1", Context: "/odd", ProductionURL: b.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/*"}, {Method: "OPTIONS", Path: "/*"}}}
	return e, b, e.publish(api)
}

// sameThroughBoth checks that what was seen through each transport (by
// name) is the same, and returns it.
func sameThroughBoth(t *testing.T, what string, seen map[string][]string) []string {
	t.Helper()
	own, std := seen[transports[0].name], seen[transports[1].name]
	if !slices.Equal(own, std) {
		t.Errorf("%s\n%q\nthrough its own connections, and\n%q\nthrough http.Transport", what, own, std)
	}
	return own
}

// connections is how many connections calls came on, since the last time.
func (b *oddBackend) connections() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.remotes)
	clear(b.remotes)
	return n
}

// answer is what a caller sees of a call: status, 1xx answers, header and
// body.
type answer struct {
	proto   string
	status  int
	hints   []int
	header  http.Header
	trailer http.Header
	body    string
	err     error
}

func (e *env) fetch(method, path, token string, header ...string) answer {
	e.t.Helper()
	return fetchVia(e.t, http.DefaultClient, e.api.URL, method, path, token, header...)
}

// fetchVia calls the gateway at base with client.
func fetchVia(t testing.TB, client *http.Client, base, method, path, token string, header ...string) answer {
	t.Helper()
	var a answer
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error { a.hints = append(a.hints, code); return nil }}))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	a.proto, a.status, a.header, a.trailer, a.body, a.err = resp.Proto, resp.StatusCode, resp.Header, resp.Trailer, string(body), err
	return a
}

// TestTransportsAnswer: every way a backend ends an answer reaches the
// caller whole, through both transports, and connections are kept alive
// and reused where the answer allows.
func TestTransportsAnswer(t *testing.T) {
	cases := []struct {
		method, path string
		status       int
		body         string
		hints        []int
	}{
		{"GET", "/length", 200, "hello", nil},
		{"GET", "/chunked", 200, "hello", nil},
		{"GET", "/until-close", 200, "hello", nil},
		{"GET", "/closes", 200, "hello", nil},
		{"GET", "/no-content", 204, "", nil},
		{"HEAD", "/length", 200, "", nil},
		{"OPTIONS", "/length", 200, "hello", nil},
		{"GET", "/hints", 200, "hello", []int{103, 103}},
		{"GET", "/many-hints", 200, "hello", slices.Repeat([]int{103}, 10)},
		{"GET", "/slow", 504, "", nil},
		{"GET", "/missing", 404, "404 page not found\n", nil},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e, b, tok := oddEnv(t, tr.cfg(gateway.Config{BackendTimeout: 300 * time.Millisecond}))
			for _, c := range cases {
				// Twice: the second call may come on the connection the
				// first left.
				for range 2 {
					a := e.fetch(c.method, "/odd/v1"+c.path, tok)
					if a.err != nil || a.status != c.status || (c.status < 500 && a.body != c.body) || !slices.Equal(a.hints, c.hints) {
						t.Errorf("%s %s: %d %q, 1xx %v, err %v; want %d %q, 1xx %v", c.method, c.path, a.status, a.body, a.hints, a.err,
							c.status, c.body, c.hints)
					}
				}
			}
			b.connections()
			for range 10 {
				e.fetch("GET", "/odd/v1/length", tok)
			}
			if n := b.connections(); n != 1 {
				t.Errorf("10 calls one after the other came on %d connections, want 1", n)
			}
		})
	}
}

// TestTransportsSendTheSameRequest: what a backend gets of a call is the
// same whichever transport carries it.
func TestTransportsSendTheSameRequest(t *testing.T) {
	calls := []struct {
		method, path string
		header       []string
	}{
		{"GET", "/odd/v1/header?q=1&r=%20", nil},
		{"GET", "/odd/v1/header", []string{"User-Agent", "curl/8.0", "Accept", "a", "Accept", "b", "X-Empty", "", "Accept-Encoding", "gzip"}},
		{"HEAD", "/odd/v1/header", []string{"Te", "trailers", "Cookie", "a=1; apistore_session=x"}},
		{"GET", "/odd/v1/header?a;b=1&c=%zz&d=1", nil},
		{"GET", "/odd/v1/header?b=1", []string{"Cookie", "a=1", "X-Real-IP", "192.0.2.1", "X-Original-URL", "/admin",
			"Forwarded", "for=192.0.2.1", "X-Forwarded-For", "192.0.2.1", "Proxy-Authorization", "Basic eA==", "Keep-Alive", "300",
			"User-Agent", "one", "User-Agent", "two"}},
		{"OPTIONS", "/odd/v1/header", []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "example.com", "Accept", ""}},
	}
	got := map[string][]string{}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e, b, tok := oddEnv(t, tr.cfg(gateway.Config{}))
			for _, c := range calls {
				a := e.fetch(c.method, c.path, tok, c.header...)
				// The addresses differ from run to run.
				body := strings.NewReplacer(strings.TrimPrefix(b.URL, "http://"), "BACKEND",
					strings.TrimPrefix(e.api.URL, "http://"), "GATEWAY").Replace(a.body)
				got[tr.name] = append(got[tr.name], fmt.Sprint(a.status, " ", a.header.Get("Content-Length"), " ", body))
			}
		})
	}
	own := sameThroughBoth(t, "the backend got", got)
	if len(own) == 0 || !strings.HasPrefix(own[0], "200 ") || !strings.Contains(own[0], "GET BACKEND /header?q=1&r=%20") {
		t.Errorf("the backend got %q", own)
	}
}

// TestTransportsPassTheSameAnswer: what a caller gets of a backend's answer
// (header, body, trailers) is the same whichever way the call went, over
// HTTP/1.1 and over HTTP/2 (as the HTTPS port serves it).
func TestTransportsPassTheSameAnswer(t *testing.T) {
	got := map[string][]string{}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e, _, tok := oddEnv(t, tr.cfg(gateway.Config{}))
			h2 := httptest.NewUnstartedServer(e.api.Config.Handler)
			h2.EnableHTTP2 = true
			h2.StartTLS()
			defer h2.Close()
			for _, c := range []struct {
				client *http.Client
				base   string
			}{{http.DefaultClient, e.api.URL}, {h2.Client(), h2.URL}} {
				for _, path := range []string{"/answer-header", "/events", "/chunked", "/hints", "/no-content", "/missing"} {
					a := fetchVia(t, c.client, c.base, "GET", "/odd/v1"+path, tok)
					a.header.Del("Date")
					got[tr.name] = append(got[tr.name], fmt.Sprint(a.proto, " ", a.status, a.hints, a.header, a.trailer, a.body))
				}
			}
		})
	}
	own := sameThroughBoth(t, "the caller got", got)
	if len(own) != 12 || !strings.HasPrefix(own[6], "HTTP/2.0 200") || !strings.Contains(own[0], "Location:[/odd/v1/moved?x=1]") || strings.Contains(own[0], "X-Hop") ||
		strings.Contains(own[0], "planted") || !strings.Contains(own[0], "map[X-Sum:[5]]") {
		t.Errorf("the caller got %q", own)
	}
}

// TestTransportsRetryClosedConnections: a backend that closes kept-alive
// connections without notice (its idle timeout, a restart) costs no call:
// one that got nothing back is sent again on a new connection.
func TestTransportsRetryClosedConnections(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := newEnv(t, tr.cfg(gateway.Config{}))
			var mu sync.Mutex
			var open []io.Closer
			backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello")
			}))
			backend.Config.ConnState = func(c net.Conn, s http.ConnState) {
				if s == http.StateIdle {
					mu.Lock()
					open = append(open, c)
					mu.Unlock()
				}
			}
			backend.Start()
			defer backend.Close()
			api := &portal.API{Name: "Odd", Version: "v1", Context: "/odd", ProductionURL: backend.URL,
				Resources: []portal.Resource{{Method: "GET", Path: "/*"}}}
			tok := e.publish(api)
			for i := range 5 {
				if a := e.fetch("GET", "/odd/v1/x", tok); a.status != 200 || a.body != "hello" {
					t.Errorf("call %d: %d %q", i, a.status, a.body)
				}
				// The backend drops its idle connections, unannounced.
				mu.Lock()
				for _, c := range open {
					c.Close()
				}
				open = nil
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestTransportsCutOffStalledLengthBody: an answer of known length whose
// body stops midway is cut off after --backend-timeout and recorded as
// 504, through both transports; one whose body came whole with its header
// needs no watching (backendBody.inMemory) and arrives whole.
func TestTransportsCutOffStalledLengthBody(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := newEnv(t, tr.cfg(gateway.Config{BackendTimeout: 200 * time.Millisecond}))
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				if r.URL.Path == "/whole" {
					_, _ = io.WriteString(w, strings.Repeat("x", 100))
					return
				}
				_, _ = io.WriteString(w, strings.Repeat("x", 10))
				w.(http.Flusher).Flush()
				select {
				case <-time.After(5 * time.Second):
				case <-r.Context().Done():
				}
			}))
			defer backend.Close()
			tok := e.publish(&portal.API{Name: "Lengths", Version: "v1", Context: "/lengths", ProductionURL: backend.URL,
				Resources: []portal.Resource{{Method: "GET", Path: "/*"}}})
			if a := e.fetch("GET", "/lengths/v1/whole", tok); a.status != 200 || len(a.body) != 100 || a.err != nil {
				t.Errorf("a whole body: %d, %d bytes, %v", a.status, len(a.body), a.err)
			}
			// The answer is small: the gateway has not sent its header yet
			// when it gives up, and can only close the connection.
			start := time.Now()
			req, _ := http.NewRequest("GET", e.api.URL+"/lengths/v1/stall", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil || time.Since(start) > 2*time.Second {
				t.Errorf("a stalled body: err %v after %v; want an error at once", err, time.Since(start))
			}
			e.api.Close()
			e.gw.Close()
			got, err := e.db.UsageOf(e.ctx, e.alice.appID, 10)
			if err != nil {
				t.Fatal(err)
			}
			// Newest first; Go's client sends the GET again when a kept-alive
			// connection closes without an answer, so the stall may be
			// recorded twice.
			bad := len(got) < 2 || got[len(got)-1].Status != 200
			for _, u := range got[:max(len(got)-1, 0)] {
				bad = bad || u.Status != http.StatusGatewayTimeout
			}
			if bad {
				t.Errorf("recorded %+v, want a 200, then 504s", got)
			}
		})
	}
}
