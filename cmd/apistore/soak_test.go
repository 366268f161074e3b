package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
)

var (
	soakFor     = flag.Duration("soak", 3*time.Second, "how long TestSoak drives the server (make soak: 30s)")
	soakClients = flag.Int("soak-clients", 64, "concurrent clients of TestSoak")
)

// TestSoak drives the binary with the mixed load (every grant, refresh and
// replay, revocation, introspection, gateway calls, applications and keys)
// from many clients: no 5xx, no "database is locked", no wrong answer, no
// error logged; afterwards every token that was returned is active unless
// it was revoked, and every revoked one is refused.
func TestSoak(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, loadFlags...)
	e := newLoadEnv(t, s)
	l := newLedger()
	ws := e.workers(t, *soakClients, l)
	ctx, cancel := context.WithTimeout(t.Context(), *soakFor)
	defer cancel()
	runWorkers(ctx, ws)
	for _, p := range l.problems {
		t.Error(p)
	}
	e.verify(t, l)
	t.Logf("%d clients for %v: %v", *soakClients, *soakFor, l.ops)
	s.stop(t)
	for line := range strings.Lines(s.log()) {
		if strings.Contains(line, "database is locked") || strings.Contains(line, "level=ERROR") {
			t.Errorf("server logged: %s", line)
		}
	}
}

// TestCrashSafety kills the server with SIGKILL in the middle of the load,
// restarts it on the same data directory and checks that the database is
// intact and that everything the server confirmed before dying holds:
// tokens answered with 200 validate, revocations stay, keys shown work,
// applications exist.
func TestCrashSafety(t *testing.T) {
	dir := newDataDir(t)
	s := startServer(t, dir, nil, loadFlags...)
	e := newLoadEnv(t, s)
	l := newLedger()
	ws := e.workers(t, 32, l)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runWorkers(t.Context(), ws) // ends when the killed server stops answering
	}()
	for progress := 0; progress < 300; {
		l.mu.Lock()
		progress = 0
		for _, n := range l.ops {
			progress += n
		}
		l.mu.Unlock()
		select {
		case <-done:
			t.Fatalf("the load ended before the kill: %v", l.problems)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	<-s.done
	for _, p := range l.problems {
		t.Error(p)
	}
	// PostgreSQL enforces its foreign keys and recovers from its WAL itself;
	// SQLite's file is checked.
	if !fixture.Postgres() {
		if got := fixture.IntegrityCheck(t, filepath.Join(dir, "apistore.db")); got != "ok" {
			t.Fatalf("integrity and foreign keys after SIGKILL: %s", got)
		}
	}
	e.s = startServer(t, dir, nil, loadFlags...)
	e.verify(t, l)
	t.Logf("killed after %v", l.ops)
}

// TestSIGTERMFinishesRequestsInFlight starts a token request whose body
// the handler is waiting for ("Expect: 100-continue" shows it is), stops
// the server with SIGTERM, waits until it accepts no new connection, then
// sends the body: the request is answered in full before the server exits.
func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, anyPorts...)
	s.admin(t, "alice-password\n", "user create", "--username", "alice")
	id, secret := appKeys(t, s, "--owner", "alice", "--name", "Term")
	u, _ := url.Parse(s.urls["http"])
	addr := net.JoinHostPort("127.0.0.1", u.Port())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "grant_type=client_credentials"
	fmt.Fprintf(conn, "POST /token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Authorization: Basic %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		u.Host, base64.StdEncoding.EncodeToString([]byte(id+":"+secret)), len(body))
	answer := bufio.NewReader(conn)
	if line, err := answer.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	answer.ReadString('\n') // the blank line after 100 Continue
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for { // shutting down: the listener is closed
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		select {
		case <-s.done:
			t.Fatalf("the server exited with a request in flight:\n%s", s.log())
		case <-time.After(10 * time.Millisecond):
		}
	}
	fmt.Fprint(conn, body)
	status, err := answer.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("answer to the request in flight: %q %v\n%s", status, err, s.log())
	}
	<-s.done
	if !strings.Contains(s.log(), "apistore: stopped") {
		t.Errorf("no clean stop:\n%s", s.log())
	}
}
