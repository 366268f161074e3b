package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/portal"
)

func TestRoutesByKeyType(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	prod := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	sand := e.token(e.alice.sandKey, e.alice.sandSecret, "read")

	r := e.call("GET", "/pizzashack/1.0.0/menu?size=large&x=%2F", prod, nil,
		"Connection", "X-Hop", "X-Hop", "drop me", "Keep-Alive", "timeout=5", "X-Custom", "kept",
		"Cookie", "apistore_session=secret; theme=dark")
	if r.status != 200 || r.body["backend"] != "production" {
		t.Fatalf("production token: %d %v", r.status, r.body)
	}
	if r.body["path"] != "/base/menu" || r.body["query"] != "size=large&x=%2F" {
		t.Errorf("forwarded %v ? %v, want /base/menu ? size=large&x=%%2F", r.body["path"], r.body["query"])
	}
	header := r.body["header"].(map[string]any)
	for _, h := range []string{"Authorization", "X-Hop", "Keep-Alive"} {
		if _, ok := header[h]; ok {
			t.Errorf("%s was forwarded to the backend", h)
		}
	}
	if cookie := header["Cookie"]; len(cookie.([]any)) != 1 || cookie.([]any)[0] != "theme=dark" {
		t.Errorf("cookies forwarded: %v, want only theme=dark (never the store's session)", cookie)
	}
	if header["X-Custom"] == nil || header["X-Forwarded-For"] == nil {
		t.Errorf("end-to-end headers were not forwarded: %v", header)
	}
	if host := r.body["host"].(string); !strings.HasPrefix(e.prod.URL, "http://"+host) {
		t.Errorf("backend saw Host %q, want its own", host)
	}

	r = e.call("GET", "/pizzashack/1.0.0/order/42", sand, nil)
	if r.status != 200 || r.body["backend"] != "sandbox" || r.body["path"] != "/order/42" {
		t.Fatalf("sandbox token: %d %v", r.status, r.body)
	}
	r = e.call("POST", "/pizzashack/1.0.0/order", e.token(e.alice.prodKey, e.alice.prodSecret, "read update"),
		strings.NewReader(`{"pizzaType":"Pepperoni"}`))
	if r.status != 200 || r.body["method"] != "POST" || r.body["body"] != `{"pizzaType":"Pepperoni"}` {
		t.Fatalf("POST with body: %d %v", r.status, r.body)
	}
	r = e.call("GET", "/pizzashack/1.0.0/files/a/b%20c.txt", prod, nil)
	if r.status != 200 || r.body["path"] != "/base/files/a/b c.txt" {
		t.Fatalf("wildcard resource: %d %v", r.status, r.body)
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	read := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	bob := e.newApp("bob")
	bobs := e.token(bob.prodKey, bob.prodSecret, "read")
	tests := []struct {
		name, method, path, token string
		status, code              int
		challenge                 string
	}{
		{"no token", "GET", "/pizzashack/1.0.0/menu", "", 401, 900902, `Bearer realm="apistore"`},
		{"unknown token", "GET", "/pizzashack/1.0.0/menu", "not-a-token", 401, 900901, `Bearer realm="apistore", error="invalid_token"`},
		{"not subscribed", "GET", "/pizzashack/1.0.0/menu", bobs, 403, 900908, `Bearer realm="apistore"`},
		{"scope lacking", "POST", "/pizzashack/1.0.0/order", read, 403, 900910, `Bearer realm="apistore", error="insufficient_scope"`},
		{"no resource", "GET", "/pizzashack/1.0.0/nothing", read, 404, 900906, ""},
		{"dot segment", "GET", "/pizzashack/1.0.0/files/../order/1", read, 400, 900906, ""},
		{"method not allowed", "DELETE", "/pizzashack/1.0.0/menu", read, 405, 900906, ""},
		{"unknown API", "GET", "/pizzashack/2.0.0/menu", read, 404, 900906, ""},
		{"unknown context", "GET", "/nothing", read, 404, 900906, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(tt.method, tt.path, tt.token, nil)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("got %d %d, want %d %d (%v)", r.status, r.code(), tt.status, tt.code, r.body)
			}
			if !strings.HasPrefix(r.challenge, tt.challenge) || (tt.challenge == "" && r.challenge != "") {
				t.Errorf("WWW-Authenticate %q, want %q…", r.challenge, tt.challenge)
			}
			if r.fault["message"] == "" || r.fault["description"] == "" {
				t.Errorf("fault without message or description: %v", r.body)
			}
		})
	}
	if r := e.call("POST", "/pizzashack/1.0.0/order", read, nil); !strings.Contains(r.challenge, `scope="update"`) {
		t.Errorf("insufficient_scope challenge %q does not name the scope", r.challenge)
	}
	if r := e.call("DELETE", "/pizzashack/1.0.0/order/7", read, nil); r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("405 with Allow %q, want GET, HEAD", r.header.Get("Allow"))
	}

	// An expired token is refused, cached or not.
	e.clock.Advance(time.Hour)
	if r := e.call("GET", "/pizzashack/1.0.0/menu", read, nil); r.status != 401 || r.code() != 900901 {
		t.Fatalf("expired token: %d %v", r.status, r.body)
	}
	// /token keeps priority over API contexts.
	if r := e.call("GET", "/token", "", nil); r.status != 405 {
		t.Errorf("GET /token: %d, want the token endpoint's 405", r.status)
	}
}

// TestScopes is the WSO2 docs' example: a resource scoped "update" admits
// a token issued (password grant) for "read update" and blocks one issued
// for "read".
func TestScopes(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	read := e.userToken(e.alice.prodKey, e.alice.prodSecret, "alice", "read")
	both := e.userToken(e.alice.prodKey, e.alice.prodSecret, "alice", "read update")
	tests := []struct {
		token, method, path string
		status              int
	}{
		{read, "GET", "/pizzashack/1.0.0/order/1", 200},
		{read, "POST", "/pizzashack/1.0.0/order", 403},
		{read, "GET", "/pizzashack/1.0.0/menu", 200},
		{both, "GET", "/pizzashack/1.0.0/order/1", 200},
		{both, "POST", "/pizzashack/1.0.0/order", 200},
	}
	for _, tt := range tests {
		if r := e.call(tt.method, tt.path, tt.token, nil); r.status != tt.status {
			t.Errorf("%s %s with %s: %d, want %d", tt.method, tt.path, map[bool]string{true: "read", false: "read update"}[tt.token == read], r.status, tt.status)
		}
	}
}

func TestTierLimits(t *testing.T) {
	e := newEnv(t, gateway.Config{Limits: map[string]int{"Bronze": 2, "Silver": 3}})
	bronze := e.newApp("bob")
	e.subscribe(bronze.appID, e.pizza.ID, "Bronze")
	silver := e.newApp("carol")
	e.subscribe(silver.appID, e.pizza.ID, "Silver")
	b := e.token(bronze.prodKey, bronze.prodSecret, "")
	s := e.token(silver.prodKey, silver.prodSecret, "")
	unlimited := e.token(e.alice.prodKey, e.alice.prodSecret, "")

	for i := range 2 {
		if r := e.call("GET", "/pizzashack/1.0.0/menu", b, nil); r.status != 200 {
			t.Fatalf("Bronze call %d: %d", i+1, r.status)
		}
	}
	r := e.call("GET", "/pizzashack/1.0.0/menu", b, nil)
	if r.status != 429 || r.code() != 900800 {
		t.Fatalf("third Bronze call in a minute: %d %v", r.status, r.body)
	}
	// The clock is at 12:00:30: the window ends in 30 seconds.
	if got := r.header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After %q, want 30", got)
	}
	// Limits count per subscription: others are not affected.
	for i := range 3 {
		if r := e.call("GET", "/pizzashack/1.0.0/menu", s, nil); r.status != 200 {
			t.Fatalf("Silver call %d: %d", i+1, r.status)
		}
	}
	for range 5 {
		if r := e.call("GET", "/pizzashack/1.0.0/menu", unlimited, nil); r.status != 200 {
			t.Fatalf("Unlimited call: %d", r.status)
		}
	}
	e.clock.Advance(30 * time.Second)
	if r := e.call("GET", "/pizzashack/1.0.0/menu", b, nil); r.status != 200 {
		t.Fatalf("Bronze call in the next minute: %d", r.status)
	}
}

func TestBackendDown(t *testing.T) {
	e := newEnv(t, gateway.Config{BackendTimeout: 50 * time.Millisecond})
	// A port nobody listens on: bind one, then free it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(release)
	api := &portal.API{Name: "Down", Version: "v1", Context: "/down", ProductionURL: closed, SandboxURL: hanging.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/*"}}}

	r := e.call("GET", "/down/v1/x", e.publish(api), nil)
	if r.status != 502 || r.code() != 101503 {
		t.Errorf("backend not listening: %d %v", r.status, r.body)
	}
	r = e.call("GET", "/down/v1/x", e.token(e.alice.sandKey, e.alice.sandSecret, ""), nil)
	if r.status != 504 || r.code() != 101504 {
		t.Errorf("backend not answering: %d %v", r.status, r.body)
	}
	if strings.Contains(r.fault["description"].(string), "127.0.0.1") {
		t.Errorf("the refusal leaks the backend's address: %v", r.body)
	}
}

// TestEncodingPassesThrough: the gateway forwards the caller's
// Accept-Encoding as it is, and asks for no compression of its own that it
// would then have to undo.
func TestEncodingPassesThrough(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	plain := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for _, accept := range []string{"", "gzip, br"} {
		req, err := http.NewRequest("GET", e.api.URL+"/pizzashack/1.0.0/menu", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Header http.Header }
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("Accept-Encoding %q: %d %v", accept, resp.StatusCode, err)
		}
		if seen := got.Header.Get("Accept-Encoding"); seen != accept {
			t.Errorf("caller sent Accept-Encoding %q, backend saw %q", accept, seen)
		}
	}
}

// TestBearerWithTrailingText accepts the Authorization header as the WSO2
// docs write headers: a trailing comma, or a second header run into the
// first ("Bearer TOKEN, Content-Type: …"), as /token does for Basic and as
// WSO2's gateway does (it splits the header at commas).
func TestBearerWithTrailingText(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	for _, value := range []string{tok + ",", tok + ", Content-Type: application/json", tok + " ", "  " + tok} {
		if r := e.call("GET", "/pizzashack/1.0.0/menu", value, nil); r.status != 200 {
			t.Errorf("Authorization: Bearer %q: %d %v", value, r.status, r.body)
		}
	}
	for _, value := range []string{",", ", " + tok, "x" + tok} {
		if r := e.call("GET", "/pizzashack/1.0.0/menu", value, nil); r.status != 401 {
			t.Errorf("Authorization: Bearer %q: %d, want 401", value, r.status)
		}
	}
}

// TestInformationalResponses: a backend's 1xx answers (100 Continue to a
// caller's Expect, 103 Early Hints) reach the caller, and its final status
// follows them unchanged.
func TestInformationalResponses(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hints" {
			w.Header().Set("Link", "</menu.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body) // sends 100 Continue
		w.Header().Set("X-Received", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusCreated)
	}))
	defer backend.Close()
	api := &portal.API{Name: "Uploads", Version: "v1", Context: "/uploads", ProductionURL: backend.URL,
		Resources: []portal.Resource{{Method: "POST", Path: "/*"}, {Method: "GET", Path: "/hints"}}}
	tok := e.publish(api)

	// As curl sends large uploads.
	req, err := http.NewRequest("POST", e.api.URL+"/uploads/v1/photo", strings.NewReader(strings.Repeat("x", 2<<20)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Expect", "100-continue")
	var continued atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { continued.Store(true) }}))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Received") != strconv.Itoa(2<<20) || !continued.Load() {
		t.Errorf("upload with Expect: 100-continue: %d, received %q, continued %v; want 201, the whole body, 100 Continue",
			resp.StatusCode, resp.Header.Get("X-Received"), continued.Load())
	}

	var hints []int
	req, _ = http.NewRequest("GET", e.api.URL+"/uploads/v1/hints", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error { hints = append(hints, code); return nil }}))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !slices.Equal(hints, []int{http.StatusEarlyHints}) {
		t.Errorf("103 then 404: got 1xx %v then %d", hints, resp.StatusCode)
	}
}

// TestBackendLocations: a backend's redirects and created resources point
// at the gateway, never at the backend's internal address.
func TestBackendLocations(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	var backend *httptest.Server
	backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		location := map[string]string{
			"/base/absolute":  backend.URL + "/base/menu?size=large#top",
			"/base/no-scheme": "//" + backend.Listener.Addr().String() + "/base",
			"/base/path":      "/base/order/7",
			"/base/relative":  "order/7",
			"/base/outside":   "/login",
			"/base/other":     "https://example.com/base/x",
		}[r.URL.Path]
		w.Header().Set("Location", location)
		if r.URL.Path == "/base/absolute" {
			w.Header().Set("Content-Location", backend.URL+"/base/menu")
		}
		w.WriteHeader(http.StatusFound)
	}))
	defer backend.Close()
	api := &portal.API{Name: "Moved", Version: "v1", Context: "/moved", ProductionURL: backend.URL + "/base/",
		Resources: []portal.Resource{{Method: "GET", Path: "/*"}}}
	tok := e.publish(api)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct{ path, location, contentLocation string }{
		{"absolute", "/moved/v1/menu?size=large#top", "/moved/v1/menu"},
		{"no-scheme", "/moved/v1", ""},
		{"path", "/moved/v1/order/7", ""},
		{"relative", "order/7", ""},
		{"outside", "/login", ""},
		{"other", "https://example.com/base/x", ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", e.api.URL+"/moved/v1/"+tt.path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || got != tt.location {
			t.Errorf("%s: %d Location %q, want %q", tt.path, resp.StatusCode, got, tt.location)
		}
		if got := resp.Header.Get("Content-Location"); got != tt.contentLocation {
			t.Errorf("%s: Content-Location %q, want %q", tt.path, got, tt.contentLocation)
		}
	}
}

// TestBackendStallsMidBody: --backend-timeout bounds each pause of a
// backend's answer, not only the wait for its header: a stream that keeps
// sending goes on past it, one that stops is cut off (and recorded as 504)
// rather than holding the caller forever.
func TestBackendStallsMidBody(t *testing.T) {
	e := newEnv(t, gateway.Config{BackendTimeout: 200 * time.Millisecond})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 8 {
			_, _ = fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			pause := 50 * time.Millisecond
			if r.URL.Path == "/stall" && i == 1 {
				pause = 5 * time.Second
			}
			select {
			case <-time.After(pause):
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer backend.Close()
	api := &portal.API{Name: "Events", Version: "v1", Context: "/events", ProductionURL: backend.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/*"}}}
	tok := e.publish(api)
	get := func(path string) (string, error, time.Duration) {
		start := time.Now()
		req, _ := http.NewRequest("GET", e.api.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err, time.Since(start)
	}
	if body, err, took := get("/events/v1/steady"); err != nil || strings.Count(body, "data:") != 8 {
		t.Errorf("a steady stream of %v: %q %v, want 8 events", took, body, err)
	}
	body, err, took := get("/events/v1/stall")
	if err == nil || strings.Count(body, "data:") != 2 || took > 2*time.Second {
		t.Errorf("a stalled stream: %q, err %v after %v; want 2 events, then an error at once", body, err, took)
	}
	e.api.Close()
	e.gw.Close()
	got, err := e.db.UsageOf(e.ctx, e.alice.appID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !(got[0].Status == 504 && got[1].Status == 200 || got[0].Status == 200 && got[1].Status == 504) {
		t.Errorf("recorded %+v, want a 200 and a 504", got)
	}
}

// TestHeadOfGetResource: HEAD is served wherever GET is (RFC 9110 §9.1),
// as the GET resource, scope included.
func TestHeadOfGetResource(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	read := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	none := e.token(e.alice.prodKey, e.alice.prodSecret, "")
	if r := e.call("HEAD", "/pizzashack/1.0.0/menu", none, nil); r.status != 200 || r.header.Get("X-Backend") != "production" {
		t.Errorf("HEAD /menu: %d %v, want the backend's 200", r.status, r.header)
	}
	if r := e.call("HEAD", "/pizzashack/1.0.0/order/7", read, nil); r.status != 200 {
		t.Errorf("HEAD /order/7 with scope read: %d, want 200", r.status)
	}
	if r := e.call("HEAD", "/pizzashack/1.0.0/order/7", none, nil); r.status != 403 {
		t.Errorf("HEAD /order/7 without scope read: %d, want 403 as for GET", r.status)
	}
	if r := e.call("HEAD", "/pizzashack/1.0.0/order", read, nil); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("HEAD /order (POST only): %d Allow %q, want 405 POST", r.status, r.header.Get("Allow"))
	}
}

// TestUntrustedBackendCertificate: a backend whose certificate the gateway
// does not trust gets a 502 that says so, without the backend's address.
func TestUntrustedBackendCertificate(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	backend := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	backend.Config.ErrorLog = log.New(io.Discard, "", 0) // the rejected handshake
	defer backend.Close()
	api := &portal.API{Name: "Private", Version: "v1", Context: "/private", ProductionURL: backend.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/*"}}}
	r := e.call("GET", "/private/v1/x", e.publish(api), nil)
	description, _ := r.fault["description"].(string)
	if r.status != 502 || r.code() != 101503 || !strings.Contains(description, "certificate") || strings.Contains(description, "127.0.0.1") {
		t.Errorf("self-signed backend: %d %v", r.status, r.body)
	}
}

// TestUpgrade: a protocol upgrade (a websocket, say) goes through the
// gateway both ways, without the caller's credentials, and is recorded as
// the 101 it was.
func TestUpgrade(t *testing.T) {
	e := newEnv(t, gateway.Config{UsageBatch: 1})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" || r.Header.Get("Authorization") != "" {
			http.Error(w, "bad upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString(line)
		rw.Flush()
	}))
	defer backend.Close()
	api := &portal.API{Name: "Echo", Version: "v1", Context: "/echo", ProductionURL: backend.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/*"}}}
	token := e.publish(api)

	conn, err := net.Dial("tcp", strings.TrimPrefix(e.api.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /echo/v1/chat HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\nAuthorization: Bearer %s\r\n\r\n", token)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %v, %v", resp, err)
	}
	fmt.Fprint(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("through the upgraded connection: %q, %v", line, err)
	}
	conn.Close()

	// The server does not wait for a hijacked connection's handler: wait
	// for the call's record, written at once (UsageBatch 1).
	var got []portal.Usage
	for deadline := time.Now().Add(5 * time.Second); len(got) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got, err = e.db.UsageOf(e.ctx, e.alice.appID, 10); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || got[0].Status != http.StatusSwitchingProtocols {
		t.Fatalf("recorded %+v; want one call with 101", got)
	}
}

// TestForwardedHeadersFromTrustedProxiesOnly: a backend learns the caller's
// address and scheme from X-Forwarded-For and X-Forwarded-Proto. Behind a
// proxy in --trusted-proxies, the gateway passes on what the proxy says
// (the chain, then the proxy itself); from any other caller those headers
// are the gateway's own, whatever the caller wrote, and X-Real-IP and the
// like are dropped.
func TestForwardedHeadersFromTrustedProxiesOnly(t *testing.T) {
	forged := []string{"X-Forwarded-For", "203.0.113.9", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "api.example.com",
		"X-Real-IP", "203.0.113.9", "True-Client-IP", "203.0.113.9"}
	for _, tt := range []struct {
		name                string
		trusted             []netip.Prefix
		wantFor, wantProto  string
		wantHostFromRequest bool
	}{
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, "203.0.113.9, 127.0.0.1", "https", false},
		{"untrusted caller", nil, "127.0.0.1", "http", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, gateway.Config{TrustedProxies: tt.trusted})
			r := e.call("GET", "/pizzashack/1.0.0/menu", e.token(e.alice.prodKey, e.alice.prodSecret, "read"), nil, forged...)
			if r.status != http.StatusOK {
				t.Fatalf("call: %d %v", r.status, r.body)
			}
			header := r.body["header"].(map[string]any)
			get := func(name string) string {
				v, _ := header[name].([]any)
				if len(v) != 1 {
					return fmt.Sprint(v)
				}
				return v[0].(string)
			}
			if got := get("X-Forwarded-For"); got != tt.wantFor {
				t.Errorf("X-Forwarded-For %q, want %q", got, tt.wantFor)
			}
			if got := get("X-Forwarded-Proto"); got != tt.wantProto {
				t.Errorf("X-Forwarded-Proto %q, want %q", got, tt.wantProto)
			}
			wantHost := "api.example.com"
			if tt.wantHostFromRequest {
				wantHost = strings.TrimPrefix(e.api.URL, "http://")
			}
			if got := get("X-Forwarded-Host"); got != wantHost {
				t.Errorf("X-Forwarded-Host %q, want %q", got, wantHost)
			}
			// Other headers naming the client's address, which backends
			// behind nginx or a CDN read, are a trusted proxy's word only.
			trusted := tt.trusted != nil
			for _, h := range []string{"X-Real-Ip", "True-Client-Ip"} {
				if _, passed := header[h]; passed != trusted {
					t.Errorf("%s passed on: %v, want %v", h, passed, trusted)
				}
			}
		})
	}
}

// TestStalledRequestBodyIsCutOff: a caller that pauses its request body
// longer than BodyTimeout (--body-timeout) gets 408 with WSO2's fault and
// frees the connection and the backend call; one that keeps sending, slowly,
// is served.
func TestStalledRequestBodyIsCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := newEnv(t, gateway.Config{BodyTimeout: timeout})
	token := e.token(e.alice.prodKey, e.alice.prodSecret, "read update")
	send := func(missing int, parts ...string) (*http.Response, string, time.Duration) {
		t.Helper()
		conn, err := net.Dial("tcp", e.api.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		size := 0
		for _, p := range parts {
			size += len(p)
		}
		start := time.Now()
		fmt.Fprintf(conn, "POST /pizzashack/1.0.0/order HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", token, size+missing)
		for i, p := range parts {
			if i > 0 {
				time.Sleep(timeout / 3)
			}
			io.WriteString(conn, p)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body), time.Since(start)
	}
	order := []string{`{"pizzaType":`, `"Pepperoni",`, `"quantity":1,`, `"customer":"alice"`, `}`}
	resp, body, took := send(0, order...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a body sent slowly, without a long pause: %d %s", resp.StatusCode, body)
	}
	resp, body, took = send(1, order...) // one byte never comes
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(body, fmt.Sprintf(`"code":%d`, gateway.CodeRequestTimeout)) {
		t.Fatalf("stalled body: %d %s, want 408 with code %d", resp.StatusCode, body, gateway.CodeRequestTimeout)
	}
	// The body trickled in for over a timeout, then paused for one.
	if took > 3*timeout+2*time.Second {
		t.Errorf("answered after %v", took)
	}
}
