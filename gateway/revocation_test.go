package gateway_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// TestRevocationIsInstant: every change that ends access is refused on the
// very next call, although the call before it filled the caches.
func TestRevocationIsInstant(t *testing.T) {
	tests := []struct {
		name   string
		end    func(e *env, token string) error
		status int
	}{
		{"token revoked", func(e *env, token string) error {
			return e.db.RevokeFamily(e.ctx, oauth.HashOf(token))
		}, 401},
		{"token revoked at /revoke", func(e *env, token string) error {
			req, _ := http.NewRequest("POST", e.api.URL+"/revoke", strings.NewReader("token="+token))
			req.SetBasicAuth(e.alice.prodKey, e.alice.prodSecret)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("RevokedAccessToken") == "" {
				return fmt.Errorf("/revoke answered %d without RevokedAccessToken", resp.StatusCode)
			}
			return nil
		}, 401},
		{"user removed", func(e *env, _ string) error {
			return e.db.DeleteUser(e.ctx, "alice")
		}, 401},
		{"user removed by another process", func(e *env, _ string) error {
			return e.otherProcess(func(d db.Store) error { return d.DeleteUser(e.ctx, "alice") })
		}, 401},
		{"token revoked by another process", func(e *env, token string) error {
			return e.otherProcess(func(d db.Store) error { return d.RevokeFamily(e.ctx, oauth.HashOf(token)) })
		}, 401},
		{"Re-generate (application token)", func(e *env, _ string) error {
			return e.db.RevokeApplicationTokens(e.ctx, e.alice.prodKeyID)
		}, 401},
		{"unsubscribe", func(e *env, _ string) error {
			return e.db.Unsubscribe(e.ctx, e.alice.appID, e.pizza.ID)
		}, 403},
		{"application deleted", func(e *env, _ string) error {
			u, err := e.db.UserAccount(e.ctx, "alice")
			if err != nil {
				return err
			}
			return e.db.DeleteApplication(e.ctx, u.ID, e.alice.appID)
		}, 401},
		{"API retired", func(e *env, _ string) error {
			return e.db.SetAPIStatus(e.ctx, e.pizza.ID, portal.APIRetired)
		}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, gateway.Config{})
			token := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
			for range 2 {
				if r := e.call("GET", "/pizzashack/1.0.0/menu", token, nil); r.status != 200 {
					t.Fatalf("before: %d %v", r.status, r.body)
				}
			}
			if err := tt.end(e, token); err != nil {
				t.Fatal(err)
			}
			if r := e.call("GET", "/pizzashack/1.0.0/menu", token, nil); r.status != tt.status {
				t.Fatalf("the next call: %d %v, want %d", r.status, r.body, tt.status)
			}
		})
	}
}

// TestUsageRecorded: each call through the gateway is written, in a batch,
// with its application, API, resource, status and latency.
func TestUsageRecorded(t *testing.T) {
	e := newEnv(t, gateway.Config{UsageBatch: 2})
	read := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	e.call("GET", "/pizzashack/1.0.0/order/5", read, nil)
	e.call("POST", "/pizzashack/1.0.0/order", read, nil)
	e.call("GET", "/pizzashack/1.0.0/menu", read, nil)
	// As at shutdown: requests finish (a call is recorded after its answer
	// is written), then the gateway writes what is queued.
	e.api.Close()
	e.gw.Close()
	got, err := e.db.UsageOf(e.ctx, e.alice.appID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d calls recorded, want 3: %+v", len(got), got)
	}
	want := map[string]int{"GET /order/{orderId}": 200, "POST /order": 403, "GET /menu": 200}
	for _, u := range got {
		key := u.Method + " " + u.Resource
		if status, ok := want[key]; !ok || status != u.Status {
			t.Errorf("recorded %s with %d, want %v", key, u.Status, want)
		}
		if u.APIID != e.pizza.ID || u.APIName != "PizzaShackAPI" || u.KeyType != "PRODUCTION" || u.Latency <= 0 || !u.At.Equal(e.clock.Now()) {
			t.Errorf("recorded %+v", u)
		}
	}
}

// otherProcess runs a write through a store handle of its own, as an admin
// subcommand in another process, or another node, does: only the access
// generation can tell the gateway about it.
func (e *env) otherProcess(write func(db.Store) error) error {
	return write(fixture.OpenAgain(e.t, e.db))
}

// TestSecretRegeneration: a new consumer secret works at once, the old one
// is refused, and every token issued to the key before is refused on the
// very next call.
func TestSecretRegeneration(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	before := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	if r := e.call("GET", "/pizzashack/1.0.0/menu", before, nil); r.status != 200 {
		t.Fatalf("before: %d", r.status)
	}
	secret := oauth.NewSecret()
	if err := e.db.ReplaceSecret(e.ctx, e.alice.prodKeyID, oauth.HashOf(secret)); err != nil {
		t.Fatal(err)
	}
	if r := e.call("GET", "/pizzashack/1.0.0/menu", before, nil); r.status != 401 {
		t.Errorf("a token of the old secret after regeneration: %d, want 401", r.status)
	}
	if status := e.tokenStatus(e.alice.prodKey, e.alice.prodSecret); status != 401 {
		t.Errorf("the old secret at /token: %d, want 401", status)
	}
	after := e.token(e.alice.prodKey, secret, "read")
	if r := e.call("GET", "/pizzashack/1.0.0/menu", after, nil); r.status != 200 {
		t.Fatalf("a token of the new secret: %d", r.status)
	}
}

// TestUsagePruned: calls older than the retention are deleted when the
// gateway starts (and hourly).
func TestUsagePruned(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	e.gw.Close() // its own pruning at start is over: only one runs at a time
	now := e.clock.Now()
	calls := []portal.Usage{
		{At: now.Add(-2 * time.Hour), AppID: e.alice.appID, APIID: e.pizza.ID, Method: "GET", Resource: "/menu", Status: 200},
		{At: now.Add(-30 * time.Minute), AppID: e.alice.appID, APIID: e.pizza.ID, Method: "GET", Resource: "/menu", Status: 200},
	}
	if err := e.db.RecordUsage(e.ctx, calls); err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(oauth.NewServer(e.db, oauth.Validity{}, e.clock.Now), e.db,
		gateway.Config{Now: e.clock.Now, UsageRetention: time.Hour})
	gw.Close()
	got, err := e.db.UsageOf(e.ctx, e.alice.appID, 10)
	if err != nil || len(got) != 1 || !got[0].At.Equal(calls[1].At) {
		t.Fatalf("after pruning: %+v %v", got, err)
	}
}

// TestNewAccessIsInstant: what the gateway caches as refused (not
// subscribed, no such API) is served at once when the access is granted,
// here or by another process, while tokens being issued meanwhile keep the
// cache.
func TestNewAccessIsInstant(t *testing.T) {
	for _, other := range []bool{false, true} {
		t.Run(map[bool]string{false: "this process", true: "another process"}[other], func(t *testing.T) {
			e := newEnv(t, gateway.Config{})
			write := func(f func(d db.Store) error) {
				t.Helper()
				var err error
				if other {
					err = e.otherProcess(f)
				} else {
					err = f(e.db)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			bob := e.newApp("bob")
			token := e.token(bob.prodKey, bob.prodSecret, "read")
			for range 2 {
				if r := e.call("GET", "/pizzashack/1.0.0/menu", token, nil); r.status != 403 {
					t.Fatalf("before subscribing: %d %v", r.status, r.body)
				}
				e.token(bob.prodKey, bob.prodSecret, "read") // a commit that keeps the cache
			}
			write(func(d db.Store) error { return d.Subscribe(e.ctx, bob.appID, e.pizza.ID, "Unlimited") })
			if r := e.call("GET", "/pizzashack/1.0.0/menu", token, nil); r.status != 200 {
				t.Fatalf("after subscribing: %d %v", r.status, r.body)
			}

			if r := e.call("GET", "/newapi/v1/x", token, nil); r.status != 404 {
				t.Fatalf("before publishing: %d %v", r.status, r.body)
			}
			api := &portal.API{Name: "New", Version: "v1", Context: "/newapi", ProductionURL: e.prod.URL,
				Resources: []portal.Resource{{Method: "GET", Path: "/*"}}}
			write(func(d db.Store) error {
				if err := d.CreateAPI(e.ctx, api); err != nil {
					return err
				}
				return d.Subscribe(e.ctx, bob.appID, api.ID, "Unlimited")
			})
			if r := e.call("GET", "/newapi/v1/x", token, nil); r.status != 200 {
				t.Fatalf("after publishing: %d %v", r.status, r.body)
			}
		})
	}
}

// TestUsageOfBrokenCalls: a call whose answer breaks off after its header
// is recorded too: 502 when the backend dropped the connection, 499 when
// the caller went away.
func TestUsageOfBrokenCalls(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		if r.URL.Path == "/reset" {
			_, _ = w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
			conn.Close()
			return
		}
		for r.Context().Err() == nil { // an endless stream
			_, _ = w.Write([]byte("data: tick\n\n"))
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond)
		}
	}))
	defer backend.Close()
	api := &portal.API{Name: "Broken", Version: "v1", Context: "/broken", ProductionURL: backend.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/reset"}, {Method: "GET", Path: "/stream"}}}
	tok := e.publish(api)
	for _, path := range []string{"/broken/v1/reset", "/broken/v1/stream"} {
		req, _ := http.NewRequest("GET", e.api.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(path, "/reset") {
			_, _ = io.ReadAll(resp.Body) // the caller stays until the answer breaks off
		} else {
			_, _ = resp.Body.Read(make([]byte, 4)) // the caller leaves the stream
		}
		resp.Body.Close()
	}
	// Close waits for the calls in flight: the stream ends once the
	// gateway notices its caller left.
	e.api.Close()
	e.gw.Close()
	got, err := e.db.UsageOf(e.ctx, e.alice.appID, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"/reset": 502, "/stream": 499}
	if len(got) != 2 {
		t.Fatalf("%d calls recorded, want 2: %+v", len(got), got)
	}
	for _, u := range got {
		if u.Status != want[u.Resource] || u.Latency <= 0 {
			t.Errorf("recorded %s with %d (latency %v), want %d", u.Resource, u.Status, u.Latency, want[u.Resource])
		}
	}
}
