package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/portal"
)

const storeOrigin = "https://store.example.com:9443"

// TestCORS checks preflights and calls from allowed and refused origins,
// per API settings: the default (the store's origin, the API's methods,
// the usual headers), a list of its own, and any origin.
func TestCORS(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	e.gw.SetStoreOrigin(storeOrigin + "/")
	// A backend with CORS headers of its own, which the gateway's replace.
	own := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("X-Trace-Id", "t-1")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(own.Close)
	listed := &portal.API{Name: "Listed", Version: "v1", Context: "/listed", ProductionURL: own.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/things"}, {Method: "DELETE", Path: "/things"}},
		CORS:      portal.CORS{Origins: []string{"https://App.example.com"}, Headers: []string{"authorization", "X-Trace"}, Methods: []string{"GET"}}}
	listedToken := e.publish(listed)
	anyone := &portal.API{Name: "Open", Version: "v1", Context: "/open", ProductionURL: own.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/things"}}, CORS: portal.CORS{Origins: []string{"*"}}}
	e.publish(anyone)
	pizzaToken := e.token(e.alice.prodKey, e.alice.prodSecret, "")

	preflight := func(method, headers string) []string {
		return []string{"Access-Control-Request-Method", method, "Access-Control-Request-Headers", headers}
	}
	const app, evil = "https://app.example.com", "https://evil.example.com"
	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		origin     string
		extra      []string
		wantStatus int
		wantCode   int
		allowed    bool   // Access-Control-Allow-Origin names the origin
		expose     string // in Access-Control-Expose-Headers
	}{
		{"preflight from the store, by default", "OPTIONS", "/pizzashack/1.0.0/order", "", storeOrigin,
			preflight("POST", "authorization, content-type"), 204, 0, true, ""},
		{"preflight from another origin", "OPTIONS", "/pizzashack/1.0.0/order", "", evil,
			preflight("POST", "authorization"), 403, gateway.CodeForbidden, false, ""},
		{"preflight for a method the API lacks", "OPTIONS", "/pizzashack/1.0.0/order", "", storeOrigin,
			preflight("DELETE", ""), 403, gateway.CodeForbidden, true, ""},
		{"preflight for a header not allowed", "OPTIONS", "/pizzashack/1.0.0/order", "", storeOrigin,
			preflight("POST", "authorization, x-secret"), 403, gateway.CodeForbidden, true, ""},
		{"call from the store", "GET", "/pizzashack/1.0.0/menu", pizzaToken, storeOrigin, nil, 200, 0, true, "X-Backend"},
		{"call from another origin: answered, not readable", "GET", "/pizzashack/1.0.0/menu", pizzaToken, evil, nil, 200, 0, false, ""},
		{"a refusal for a missing scope is readable", "GET", "/pizzashack/1.0.0/order/1", pizzaToken, storeOrigin, nil,
			403, gateway.CodeInsufficientScope, true, "WWW-Authenticate"},
		{"a refusal for no token is readable", "GET", "/pizzashack/1.0.0/menu", "", storeOrigin, nil,
			401, gateway.CodeMissingCredentials, true, "WWW-Authenticate"},
		{"a refused method override is readable", "GET", "/pizzashack/1.0.0/menu", pizzaToken, storeOrigin,
			[]string{"X-HTTP-Method-Override", "DELETE"}, 400, gateway.CodeNoMatchingResource, true, ""},
		{"own list: preflight from a listed origin, own header", "OPTIONS", "/listed/v1/things", "", app,
			preflight("GET", "Authorization,X-Trace"), 204, 0, true, ""},
		{"own list: the store is not in it", "OPTIONS", "/listed/v1/things", "", storeOrigin,
			preflight("GET", "authorization"), 403, gateway.CodeForbidden, false, ""},
		{"own list: a resource's method not in the list", "OPTIONS", "/listed/v1/things", "", app,
			preflight("DELETE", ""), 403, gateway.CodeForbidden, true, ""},
		{"own list: the backend's CORS headers give way", "GET", "/listed/v1/things", listedToken, app, nil, 200, 0, true, "X-Trace-Id"},
		{"own list: nor do they open the API to others", "GET", "/listed/v1/things", listedToken, evil, nil, 200, 0, false, ""},
		{"any origin", "OPTIONS", "/open/v1/things", "", evil, preflight("GET", "authorization"), 204, 0, true, ""},
		{"a call without Origin is no CORS call", "GET", "/pizzashack/1.0.0/menu", pizzaToken, "", nil, 200, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := tt.extra
			if tt.origin != "" {
				extra = append([]string{"Origin", tt.origin}, extra...)
			}
			r := e.call(tt.method, tt.path, tt.token, nil, extra...)
			if r.status != tt.wantStatus || r.code() != tt.wantCode {
				t.Fatalf("status %d, fault %d; want %d, %d (%v)", r.status, r.code(), tt.wantStatus, tt.wantCode, r.fault)
			}
			allow := r.header.Values("Access-Control-Allow-Origin")
			if tt.allowed && !slices.Equal(allow, []string{tt.origin}) {
				t.Errorf("Access-Control-Allow-Origin %q, want only %q", allow, tt.origin)
			}
			if !tt.allowed && len(allow) > 0 {
				t.Errorf("Access-Control-Allow-Origin %q, want none", allow)
			}
			if !slices.Contains(r.header.Values("Vary"), "Origin") {
				t.Errorf("Vary %q lacks Origin", r.header.Values("Vary"))
			}
			if tt.expose != "" && !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), tt.expose) {
				t.Errorf("Access-Control-Expose-Headers %q lacks %s", r.header.Get("Access-Control-Expose-Headers"), tt.expose)
			}
			if tt.method == "OPTIONS" && tt.wantStatus == 204 {
				if got := r.header.Get("Access-Control-Allow-Headers"); !strings.Contains(got, "Authorization") {
					t.Errorf("Access-Control-Allow-Headers %q", got)
				}
				if got := r.header.Get("Access-Control-Allow-Methods"); got == "" || r.header.Get("Access-Control-Max-Age") == "" {
					t.Errorf("Access-Control-Allow-Methods %q, Max-Age %q", got, r.header.Get("Access-Control-Max-Age"))
				}
			}
		})
	}
}

// TestCORSSettingsChangeAtOnce: a publisher's change of an API's CORS
// settings holds from the next request, as any change of the API does.
func TestCORSSettingsChangeAtOnce(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	e.gw.SetStoreOrigin(storeOrigin)
	preflight := func(origin string) int {
		return e.call("OPTIONS", "/pizzashack/1.0.0/menu", "", nil, "Origin", origin, "Access-Control-Request-Method", "GET").status
	}
	const app = "https://app.example.com"
	if got := preflight(app); got != http.StatusForbidden {
		t.Fatalf("before: %d, want 403", got)
	}
	e.pizza.CORS.Origins = []string{app}
	if err := e.db.UpdateAPI(e.ctx, e.pizza, nil); err != nil {
		t.Fatal(err)
	}
	if got := preflight(app); got != http.StatusNoContent {
		t.Errorf("after: %d, want 204", got)
	}
	if got := preflight(storeOrigin); got != http.StatusForbidden {
		t.Errorf("the store, no longer listed: %d, want 403", got)
	}
}
