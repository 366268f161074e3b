package web_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/web"
)

// slowPost sends a POST whose body stops after its first bytes, as a
// slowloris client does, and returns the answer and how long it took.
func slowPost(t *testing.T, srv *httptest.Server, path string) (*http.Response, string, time.Duration) {
	t.Helper()
	var conn net.Conn
	var err error
	addr := srv.Listener.Addr().String()
	if srv.TLS != nil {
		conn, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_, err = io.WriteString(conn, "POST "+path+" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: 1000\r\n\r\ngrant_type=")
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: no answer to a stalled body: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), time.Since(start)
}

// TestStalledBodiesAreCutOff: a client that stops sending a form's body
// holds neither a connection nor a handler past --body-timeout: the store
// and the OAuth endpoints answer 408 Request Timeout, with the page or the
// RFC 6749 error of the endpoint.
func TestStalledBodiesAreCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	d, _ := fixture.Docs(t)
	srv := web.New(web.Config{BodyTimeout: timeout}, handlers.New(oauth.NewServer(d, oauth.Validity{}, nil), d))
	store, api := httptest.NewTLSServer(srv.Store()), httptest.NewServer(srv.API())
	t.Cleanup(store.Close)
	t.Cleanup(api.Close)
	for _, tt := range []struct {
		srv        *httptest.Server
		path, want string
	}{
		{store, "/store/login", "took too long"},
		{store, "/store/signup", "took too long"},
		{api, "/token", `"error":"invalid_request"`},
		{api, "/revoke", `"error":"invalid_request"`},
		{api, "/introspect", `"error":"invalid_request"`},
		{api, "/authorize", "took too long"},
	} {
		resp, body, took := slowPost(t, tt.srv, tt.path)
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %q, want 408 with %q", tt.path, resp.StatusCode, body, tt.want)
		}
		if took > timeout+2*time.Second {
			t.Errorf("%s: answered after %v, want about %v", tt.path, took, timeout)
		}
	}
}

// TestStalledBodiesOverHTTP2: the same over HTTP/2, which the HTTPS
// listeners speak, where the deadline is the stream's.
func TestStalledBodiesOverHTTP2(t *testing.T) {
	const timeout = 300 * time.Millisecond
	d, _ := fixture.Docs(t)
	srv := web.New(web.Config{BodyTimeout: timeout}, handlers.New(oauth.NewServer(d, oauth.Validity{}, nil), d))
	for _, tt := range []struct {
		handler    http.Handler
		path, want string
	}{
		{srv.Store(), "/store/login", "took too long"},
		{srv.API(), "/token", `"error":"invalid_request"`},
	} {
		ts := httptest.NewUnstartedServer(tt.handler)
		ts.EnableHTTP2 = true
		ts.StartTLS()
		t.Cleanup(ts.Close)
		body, stall := io.Pipe()
		t.Cleanup(func() { stall.Close() })
		go io.WriteString(stall, "grant_type=")
		req, _ := http.NewRequest(http.MethodPost, ts.URL+tt.path, body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		start := time.Now()
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(got), tt.want) {
			t.Errorf("%s: %s %d %q, want HTTP/2 408 with %q", tt.path, resp.Proto, resp.StatusCode, got, tt.want)
		}
		if took := time.Since(start); took > timeout+2*time.Second {
			t.Errorf("%s: answered after %v", tt.path, took)
		}
	}
}
