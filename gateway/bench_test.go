package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/web"
	"github.com/apistore/apistore/web/lane"
)

// BenchmarkGatewayRefusal measures the gateway's own work on a cached token
// (state check, routing, validation, subscription, scope), without a
// backend call: the resource needs a scope the token lacks.
func BenchmarkGatewayRefusal(b *testing.B) {
	e := newEnv(b, gateway.Config{})
	token := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	req := httptest.NewRequest("POST", "/pizzashack/1.0.0/order", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			e.gw.ServeHTTP(w, req)
			if w.Code != http.StatusForbidden {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}

// BenchmarkGatewayProxy is a whole call through the gateway to a backend on
// loopback.
func BenchmarkGatewayProxy(b *testing.B) {
	e := newEnv(b, gateway.Config{})
	token := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	proxyCalls(b, e, token)
}

// BenchmarkGatewayProxyMixed is BenchmarkGatewayProxy while another client
// keeps asking /token for tokens: the commits of new tokens must not drop
// the gateway's caches.
func BenchmarkGatewayProxyMixed(b *testing.B) {
	e := newEnv(b, gateway.Config{})
	token := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	var stop atomic.Bool
	var issued atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			e.token(e.alice.prodKey, e.alice.prodSecret, "read")
			issued.Add(1)
		}
	}()
	proxyCalls(b, e, token)
	stop.Store(true)
	<-done
	b.ReportMetric(float64(issued.Load())/b.Elapsed().Seconds(), "issued/s")
}

// BenchmarkGatewayBackendJWT is BenchmarkGatewayProxy without and with a
// backend JWT for the API, in one run: the gateway signs one per token and
// API, not one per call, so the two should be close.
func BenchmarkGatewayBackendJWT(b *testing.B) {
	for _, withJWT := range []bool{false, true} {
		name := "plain"
		if withJWT {
			name = "backend_JWT"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, gateway.Config{})
			e.oauth.UseJWT(oauth.NewKeys(e.db, e.clock.Now), "https://gateway.example", nil)
			e.pizza.BackendJWT = withJWT
			if err := e.db.UpdateAPI(e.ctx, e.pizza, nil); err != nil {
				b.Fatal(err)
			}
			proxyCalls(b, e, e.token(e.alice.prodKey, e.alice.prodSecret, "read"))
		})
	}
}

// proxyCalls makes the benchmark's calls through the gateway, in parallel.
func proxyCalls(b *testing.B, e *env, token string) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/pizzashack/1.0.0/menu", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			e.gw.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}

// noUsageWrites is a store that writes no usage at all: the bound below
// any usage writer's cost, raw rows alone included.
type noUsageWrites struct{ gateway.Store }

func (noUsageWrites) RecordUsage(context.Context, []portal.Usage) error { return nil }

// BenchmarkGatewayUsageRollups measures the gateway's throughput with the
// usage writer storing raw calls and their rollups, side by side with the
// same gateway over a store that writes no usage, in alternating chunks of
// calls on the same database, token and backend; it reports the ratio of
// their throughputs (issue 15 asks for at least 0.95).
func BenchmarkGatewayUsageRollups(b *testing.B) {
	e := newEnv(b, gateway.Config{})
	token := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	bare := gateway.New(oauth.NewServer(e.db, oauth.Validity{}, e.clock.Now), noUsageWrites{e.db}, gateway.Config{Now: e.clock.Now})
	b.Cleanup(bare.Close)
	gateways := []http.Handler{e.gw, bare}
	const chunk, workers = 5000, 8
	var took [2]time.Duration
	var calls [2]int
	run := func(g http.Handler, n int) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range n/workers + min(1, max(0, n%workers-w)) {
					req := httptest.NewRequest("GET", "/pizzashack/1.0.0/menu", nil)
					req.Header.Set("Authorization", "Bearer "+token)
					rec := httptest.NewRecorder()
					g.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("status %d", rec.Code)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for i, g := range gateways {
			took[i] += run(g, n)
			calls[i] += n
		}
	}
	with, without := float64(calls[0])/took[0].Seconds(), float64(calls[1])/took[1].Seconds()
	b.ReportMetric(with, "calls/s-rollups")
	b.ReportMetric(without, "calls/s-no-writes")
	b.ReportMetric(with/without, "ratio")
}

// BenchmarkGatewayDPoP measures gateway validation (as
// BenchmarkGatewayRefusal: routing, token, subscription, scope, then 403
// with no backend call) of a DPoP-bound token with a fresh proof on every
// call, side by side with a bearer token, in alternating chunks of calls
// on the same database and gateway; it reports the ratio of their
// throughputs (issue 17 asks for at least 0.85). The proofs are signed
// before each chunk is timed: signing is the client's work.
func BenchmarkGatewayDPoP(b *testing.B) {
	e := newEnv(b, gateway.Config{})
	bearer := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	key := fixture.NewDPoPKey(b, e.clock.Now)
	bound := e.dpopToken(key, "read")
	const chunk, workers = 2000, 8
	const order = "/pizzashack/1.0.0/order"
	run := func(n int, request func(i int) *http.Request) time.Duration {
		reqs := make([]*http.Request, n)
		for i := range reqs {
			reqs[i] = request(i)
		}
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					rec := httptest.NewRecorder()
					e.gw.ServeHTTP(rec, reqs[i])
					if rec.Code != http.StatusForbidden {
						b.Errorf("status %d: %s", rec.Code, rec.Body)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	var took [2]time.Duration
	var calls int
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		b.StopTimer()
		proofs := make([]string, n)
		for i := range proofs {
			proofs[i] = key.Proof("POST", "http://example.com"+order, bound)
		}
		b.StartTimer()
		took[0] += run(n, func(i int) *http.Request {
			req := httptest.NewRequest("POST", order, nil)
			req.Header.Set("Authorization", "DPoP "+bound)
			req.Header.Set("DPoP", proofs[i])
			return req
		})
		took[1] += run(n, func(int) *http.Request {
			req := httptest.NewRequest("POST", order, nil)
			req.Header.Set("Authorization", "Bearer "+bearer)
			return req
		})
		calls += n
	}
	dpop, plain := float64(calls)/took[0].Seconds(), float64(calls)/took[1].Seconds()
	b.ReportMetric(dpop, "calls/s-dpop")
	b.ReportMetric(plain, "calls/s-bearer")
	b.ReportMetric(dpop/plain, "ratio")
}

// BenchmarkGatewayLane is a whole call as the gateway port serves it:
// web/lane in front of the API application, on kept-alive loopback
// connections, to a backend that writes one canned answer. Client and
// backend read and write raw bytes, so the allocations counted are
// mostly the server's.
func BenchmarkGatewayLane(b *testing.B) {
	e := newEnv(b, gateway.Config{})
	const answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Sun, 22 Nov 2026 12:00:30 GMT\r\n" +
		"Content-Length: 12\r\n\r\n{\"menu\":[1]}"
	token := e.publish(&portal.API{Name: "Raw", Version: "1.0.0", Context: "/raw",
		ProductionURL: "http://" + rawServer(b, []byte(answer)), Resources: []portal.Resource{{Method: "GET", Path: "/menu"}}})
	srv := &http.Server{Handler: web.New(web.Config{Gateway: e.gw}, handlers.New(e.oauth, e.db)).API(),
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	front := &lane.Server{HTTP: srv, Takes: func(path string) bool { return !gateway.Reserved(path) }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go front.Serve(ln)
	b.Cleanup(func() { _ = front.Shutdown(context.Background()) })
	request := []byte("GET /raw/1.0.0/menu HTTP/1.1\r\nHost: gateway.example\r\nAuthorization: Bearer " + token + "\r\n\r\n")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			if _, err := c.Write(request); err != nil {
				b.Error(err)
				return
			}
			if err := readAnswer(br, "HTTP/1.1 200 OK"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// rawServer serves answer to every request on a loopback listener of its
// own, and returns its address.
func rawServer(b *testing.B, answer []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					// A request without a body: its header ends at a blank line.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) == 2 {
							break
						}
					}
					if _, err := c.Write(answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// readAnswer reads one answer with a Content-Length from br, and fails
// unless its status line is want.
func readAnswer(br *bufio.Reader, want string) error {
	length := -1
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case first:
			if string(line) != want {
				return fmt.Errorf("answer %q, want %q", line, want)
			}
		case len(line) == 0:
			if length < 0 {
				return errors.New("no Content-Length")
			}
			_, err := br.Discard(length)
			return err
		default:
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				if length, err = strconv.Atoi(string(v)); err != nil {
					return err
				}
			}
		}
	}
}
