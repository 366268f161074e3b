package lane

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/certtest"
)

// The connection's life on the lane: TLS, the caller leaving, timeouts
// and shutdown.

// tlsSetup is a server certificate for 127.0.0.1, a client certificate,
// and the configurations of the server and of a client that trusts it.
func tlsSetup(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	ca := certtest.NewCA(t, "test CA")
	cert := certtest.New(t, ca, &x509.Certificate{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	clientCert := certtest.NewClientCert(t, nil, "client", "client.example")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	server = &tls.Config{Certificates: []tls.Certificate{cert.TLS()}, ClientAuth: tls.RequestClientCert,
		NextProtos: []string{"h2", "http/1.1"}}
	client = &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert.TLS()}}
	return server, client
}

// tlsInfo answers with what the handler sees of the connection's TLS.
func tlsInfo(n *notes, w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	peers := 0
	if r.TLS != nil {
		peers = len(r.TLS.PeerCertificates)
	}
	fmt.Fprintf(w, "%s %d tls=%v peers=%d", r.Method, r.ProtoMajor, r.TLS != nil, peers)
}

func TestLaneTLS(t *testing.T) {
	serverConf, clientConf := tlsSetup(t)
	n := &notes{}
	_, addr, _ := serveLane(t, &http.Server{Handler: recording(n, tlsInfo), TLSConfig: serverConf.Clone()},
		func(s *Server) { s.TLS = serverConf.Clone() })
	url := "https://" + addr + "/a"

	t.Run("HTTP/1.1: the lane's calls and a handed-over connection's", func(t *testing.T) {
		// One connection: no HTTP/2, no more than one idle connection.
		tr := &http.Transport{TLSClientConfig: clientConf.Clone(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
			MaxConnsPerHost: 1}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		before := len(n.writerTypes())
		for _, call := range []struct{ method, want string }{
			{"GET", "GET 1 tls=true peers=1"},
			{"POST", "POST 1 tls=true peers=1"},
			{"GET", "GET 1 tls=true peers=1"},
		} {
			req, _ := http.NewRequest(call.method, url, strings.NewReader(strings.Repeat("x", len(call.method)-3)))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != call.want {
				t.Errorf("%s: %q, want %q", call.method, body, call.want)
			}
		}
		if got, want := n.writerTypes()[before:], []string{laneWriter, netWriter, netWriter}; !equal(got, want) {
			t.Errorf("served by %q, want %q", got, want)
		}
	})

	t.Run("HTTP/2 goes to net/http", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: clientConf.Clone(), ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || string(body) != "GET 2 tls=true peers=1" {
			t.Errorf("HTTP/%d: %q", resp.ProtoMajor, body)
		}
	})

	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		netAddr := listen(t)
		srv := &http.Server{Handler: recording(&notes{}, tlsInfo), TLSConfig: serverConf.Clone(), ErrorLog: quiet}
		go srv.ServeTLS(netAddr, "", "")
		t.Cleanup(func() { srv.Close() })
		plain := func(addr string) string {
			c := dial(t, addr)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, get("/a"))
			b, err := io.ReadAll(c)
			return fmt.Sprintf("%q %v", b, err)
		}
		if got, want := plain(addr), plain(netAddr.Addr().String()); got != want {
			t.Errorf("lane: %s\nnet/http: %s", got, want)
		}
	})
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// readOne reads an answer to a GET from br, its body whole.
func readOne(t *testing.T, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// waitClosed requires the server to close c within limit.
func waitClosed(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	if err != nil && errClass(err) != "closed" {
		t.Fatalf("not closed after %v: %v", limit, err)
	}
	return time.Since(start)
}

func TestLaneCallerLeaving(t *testing.T) {
	ended := make(chan error, 1)
	started := make(chan struct{}, 1)
	h := func(n *notes, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/block": // until the caller leaves
			started <- struct{}{}
			select {
			case <-r.Context().Done():
				ended <- r.Context().Err()
			case <-time.After(5 * time.Second):
				ended <- errors.New("context not cancelled in 5 s")
			}
		case "/slow": // longer than WatchAfter
			select {
			case <-r.Context().Done():
			case <-time.After(50 * time.Millisecond):
			}
			fmt.Fprintf(w, "slow %v", r.Context().Err())
		default:
			if strings.HasPrefix(r.URL.Path, "/sleep") {
				time.Sleep(10 * time.Millisecond) // WatchAfter
			}
			io.WriteString(w, "fast "+r.URL.Path)
		}
	}
	n := &notes{}
	_, addr, _ := serveLane(t, &http.Server{Handler: recording(n, h)}, func(s *Server) { s.WatchAfter = 10 * time.Millisecond })

	t.Run("close cancels the call", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, get("/block"))
		<-started
		c.Close()
		if err := <-ended; !errors.Is(err, context.Canceled) {
			t.Errorf("the handler ended with %v", err)
		}
	})

	t.Run("a half-closed caller gets its answer", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, get("/slow"))
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		// As net/http: the read's EOF cancels the call, the answer still
		// goes out, and the connection closes after it.
		_, body := readOne(t, bufio.NewReader(c))
		if body != "slow context canceled" {
			t.Errorf("answer %q", body)
		}
		waitClosed(t, c, 2*time.Second)
	})

	// A call shorter than WatchAfter, a next one pipelined; a longer one
	// during which the next arrives (the background read keeps its first
	// byte); a longer one with nothing after it, then another.
	t.Run("calls after short and long ones", func(t *testing.T) {
		c := dial(t, addr)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		io.WriteString(c, get("/1")+get("/2"))
		io.WriteString(c, get("/slow"))
		time.Sleep(25 * time.Millisecond)
		io.WriteString(c, get("/3"))
		for _, want := range []string{"fast /1", "fast /2", "slow <nil>", "fast /3"} {
			if _, body := readOne(t, br); body != want {
				t.Errorf("answer %q, want %q", body, want)
			}
		}
		io.WriteString(c, get("/slow"))
		if _, body := readOne(t, br); body != "slow <nil>" {
			t.Errorf("answer %q", body)
		}
		io.WriteString(c, get("/4"))
		if _, body := readOne(t, br); body != "fast /4" {
			t.Errorf("answer %q after a call the lane watched", body)
		}
	})

	// Calls that end about when the watch starts: the lane must neither
	// hang nor lose a byte.
	t.Run("calls ending as the watch starts", func(t *testing.T) {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		for i := range 200 {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, get(fmt.Sprintf("/sleep%d", i)))
			if _, body := readOne(t, br); body != fmt.Sprintf("fast /sleep%d", i) {
				t.Fatalf("answer %q", body)
			}
		}
	})
	for _, typ := range n.writerTypes() {
		if typ != laneWriter {
			t.Errorf("a call served by %s", typ)
		}
	}
}

func TestLaneTimeouts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := func(n *notes, w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
	for _, kind := range []string{"net/http", "lane"} {
		newServer := func() *http.Server {
			return &http.Server{Handler: recording(&notes{}, h), IdleTimeout: timeout, ReadHeaderTimeout: timeout}
		}
		addr := ""
		if kind == "lane" {
			_, addr, _ = serveLane(t, newServer(), nil)
		} else {
			addr = serveNetHTTP(t, newServer())
		}
		t.Run(kind+": idle", func(t *testing.T) {
			c := dial(t, addr)
			io.WriteString(c, get("/a"))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			readOne(t, bufio.NewReader(c))
			if d := waitClosed(t, c, 5*time.Second); d < timeout/2 {
				t.Errorf("closed after %v, before the idle timeout (%v)", d, timeout)
			}
		})
		t.Run(kind+": idle without IdleTimeout", func(t *testing.T) {
			// net/http then waits for a next request for ever (ReadTimeout
			// unset): the header timeout starts with its first byte.
			srv := newServer()
			srv.IdleTimeout = 0
			var addr string
			if kind == "lane" {
				_, addr, _ = serveLane(t, srv, nil)
			} else {
				addr = serveNetHTTP(t, srv)
			}
			c := dial(t, addr)
			io.WriteString(c, get("/a"))
			br := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			readOne(t, br)
			time.Sleep(2 * timeout)
			io.WriteString(c, get("/b"))
			if _, body := readOne(t, br); body != "ok" {
				t.Errorf("answer %q", body)
			}
		})
		t.Run(kind+": half a header", func(t *testing.T) {
			c := dial(t, addr)
			io.WriteString(c, "GET /a HTTP/1.1\r\nHost: exa")
			if d := waitClosed(t, c, 5*time.Second); d > timeout+timeout/2 {
				t.Errorf("closed after %v, header timeout %v", d, timeout)
			}
		})
		t.Run(kind+": half a second header", func(t *testing.T) {
			c := dial(t, addr)
			io.WriteString(c, get("/a"))
			br := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			readOne(t, br)
			io.WriteString(c, "GET /b HTTP/1.1\r\nHost: exa")
			if d := waitClosed(t, c, 5*time.Second); d > timeout+timeout/2 {
				t.Errorf("closed after %v, header timeout %v", d, timeout)
			}
		})
	}
}

// TestLaneShutdown runs the same shutdown on net/http and on the lane: an
// idle connection, an idle handed-over one and a call in flight.
func TestLaneShutdown(t *testing.T) {
	type outcome struct{ inFlight, served string }
	run := func(t *testing.T, lane bool) outcome {
		started, release := make(chan struct{}), make(chan struct{})
		h := func(n *notes, w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if r.URL.Path == "/block" {
				close(started)
				<-release
			}
			io.WriteString(w, "ok "+r.URL.Path)
		}
		srv := &http.Server{Handler: recording(&notes{}, h), ErrorLog: quiet}
		var shutdown func(context.Context) error
		var served <-chan error
		var addr string
		if lane {
			var s *Server
			s, addr, served = serveLane(t, srv, nil)
			shutdown = s.Shutdown
		} else {
			ln := listen(t)
			ch := make(chan error, 1)
			go func() { ch <- srv.Serve(ln) }()
			addr, served, shutdown = ln.Addr().String(), ch, srv.Shutdown
		}
		idle, handed, busy := dial(t, addr), dial(t, addr), dial(t, addr)
		for _, c := range []net.Conn{idle, handed, busy} {
			c.SetDeadline(time.Now().Add(5 * time.Second))
		}
		io.WriteString(idle, get("/idle"))
		readOne(t, bufio.NewReader(idle))
		io.WriteString(handed, "POST /handed HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\nhi")
		readOne(t, bufio.NewReader(handed))
		io.WriteString(busy, get("/block"))
		<-started

		done := make(chan error, 1)
		go func() { done <- shutdown(context.Background()) }()
		waitClosed(t, idle, 2*time.Second)
		waitClosed(t, handed, 2*time.Second)
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v with a call in flight", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		out := exchange(busy, step{"", []string{"GET"}})
		if err := <-done; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-served:
			return outcome{out, fmt.Sprint(err)}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve has not returned")
		}
		return outcome{}
	}
	want := run(t, false)
	got := run(t, true)
	if got.inFlight != want.inFlight {
		t.Errorf("the call in flight: %s", diff(got.inFlight, want.inFlight))
	}
	if got.served != http.ErrServerClosed.Error() {
		t.Errorf("Serve returned %s", got.served)
	}
}
