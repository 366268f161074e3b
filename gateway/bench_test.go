package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/apistore/apistore/gateway"
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
