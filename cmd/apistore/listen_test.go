package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestParsePublicURL(t *testing.T) {
	for _, tt := range []struct {
		in    string
		store bool
		want  string // "" with ok false: refused
		ok    bool
	}{
		{"", false, "", true},
		{"https://API.Example.com/", false, "https://api.example.com", true},
		{"http://api.example.com:8280", false, "http://api.example.com:8280", true},
		{"https://[2001:db8::1]:8443", true, "https://[2001:db8::1]:8443", true},
		{"http://portal.example.com", true, "", false},
		{"ftp://api.example.com", false, "", false},
		{"https://", false, "", false},
		{"https://user@api.example.com", false, "", false},
		{"https://api.example.com/gateway", false, "", false},
		{"https://api.example.com?x=1", false, "", false},
		{"https://api.example.com:99999", false, "", false},
		{"https://api.example.com:", false, "", false},
		{"api.example.com", false, "", false},
	} {
		got, err := parsePublicURL(tt.in, tt.store)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parsePublicURL(%q, store %v) = %q, %v; want %q, ok %v", tt.in, tt.store, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := parseTrustedProxies(" 10.1.2.3/8, 192.0.2.7 ,fd00::/8,,::1")
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("::1/128")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.local", "10.0.0"} {
		if _, err := parseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestPublicURLFlags: the binary's discovery documents name --public-url on
// both token listeners; without it each names its own address, whatever
// Host the client sends.
func TestPublicURLFlags(t *testing.T) {
	issuer := func(base, host string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/.well-known/oauth-authorization-server", nil)
		req.Host = host
		resp, err := storeClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var meta struct{ Issuer string }
		if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
			t.Fatal(err)
		}
		return meta.Issuer
	}
	s := startServer(t, t.TempDir(), []string{"APISTORE_PUBLIC_URL=https://api.example.com"},
		append(anyPorts, "--store-public-url", "https://portal.example.com", "--trusted-proxies", "127.0.0.1")...)
	for _, l := range []string{"https", "http"} {
		if got := issuer(s.urls[l], "evil.example"); got != "https://api.example.com" {
			t.Errorf("%s listener: issuer %q, want the public URL", l, got)
		}
	}
	s.stop(t)
	s = startServer(t, t.TempDir(), nil, anyPorts...)
	for _, l := range []string{"https", "http"} {
		if got := issuer(s.urls[l], "evil.example"); got != s.urls[l] {
			t.Errorf("%s listener: issuer %q, want its own URL %s", l, got, s.urls[l])
		}
	}
}

// TestSlowClientFlags: --max-conns-per-address and --body-timeout reach the
// listeners: a third idle connection from one address is closed at once,
// and a token request whose body stalls is answered 408.
func TestSlowClientFlags(t *testing.T) {
	s := startServer(t, t.TempDir(), nil, append(anyPorts, "--max-conns-per-address", "2", "--body-timeout", "500ms")...)
	u, _ := url.Parse(s.urls["http"])
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	first, _ := dial(), dial()
	third := dial()
	third.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("third connection: %v, want it closed", err)
	}
	start := time.Now()
	fmt.Fprintf(first, "POST /token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=", u.Host)
	first.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(first), nil)
	if err != nil {
		t.Fatalf("stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || time.Since(start) > 3*time.Second {
		t.Errorf("stalled body: %d after %v, want 408 after about 500ms", resp.StatusCode, time.Since(start))
	}
}
