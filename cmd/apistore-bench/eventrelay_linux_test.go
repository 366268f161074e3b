package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestEventRelay relays calls on a kept-alive connection both ways, ends a
// connection when its backend side ends or its caller stops reading, and
// stops listening on stop.
func TestEventRelay(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100<<10)+r.URL.Path) // larger than one read
	}))
	defer backend.Close()
	r, err := startEventRelay(strings.TrimPrefix(backend.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(r.url, "http://")
	var dials int
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		dials++
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	for _, p := range []string{"/a", "/b", "/c"} {
		res, err := client.Get(r.url + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || !strings.HasSuffix(string(body), p) || len(body) != 100<<10+len(p) {
			t.Fatalf("GET %s: %d bytes, %v", p, len(body), err)
		}
	}
	if dials != 1 {
		t.Errorf("%d connections for three calls, want 1", dials)
	}

	// The backend closes after answering: the relay must end the caller's
	// connection too, or this read would wait for its deadline.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if got, err := io.ReadAll(c); err != nil || !strings.Contains(string(got), "/last") {
		t.Errorf("a call whose backend closed: %d bytes, %v", len(got), err)
	}

	// A caller that sends and never reads is dropped once the relay has
	// had no room to write for a second, rather than holding up the loop:
	// when it reads at last, its connection ends instead of waiting.
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	io.WriteString(stalled, strings.Repeat("GET /stall HTTP/1.1\r\nHost: x\r\n\r\n", 300)) // 30 MB of answers
	time.Sleep(2500 * time.Millisecond)
	stalled.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.Copy(io.Discard, stalled); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the relay kept a caller that did not read for 2.5 s (%d bytes read after)", n)
	}

	r.stop()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("the relay still accepts after stop")
	}
}
