package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/portal"
)

// plantingBackend answers like a backend that tries its luck: cookies
// named as the store's session (plain, with a cookie prefix, and
// nameless, which a browser sends as apistore_session=…), a command to
// clear the site's cookies, and headers naming its software.
func plantingBackend(t *testing.T) *httptest.Server {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, c := range []string{"apistore_session=planted; Path=/", "__Host-apistore_session=planted; Path=/; Secure",
			"=apistore_session=planted", " APISTORE_session=planted", "theme=dark; Path=/"} {
			h.Add("Set-Cookie", c)
		}
		h.Set("Clear-Site-Data", `"cookies"`)
		h.Set("Server", "Apache/2.4.1 (Unix)")
		h.Set("X-Powered-By", "PHP/5.4")
		h.Set("X-AspNet-Version", "4.0.30319")
		h.Set("X-Backend", "node-7")
		if r.URL.Path == "/hints" {
			h.Set("Link", "</app.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(b.Close)
	return b
}

// TestBackendCannotReachTheStoresCookies: a backend's Set-Cookie for the
// store's own cookie names, and Clear-Site-Data, never reach the caller:
// cookies ignore ports, so a backend could otherwise plant a store session
// (log a victim into the attacker's account) or end one. Its other cookies
// pass.
func TestBackendCannotReachTheStoresCookies(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	b := plantingBackend(t)
	token := e.publish(&portal.API{Name: "Planter", Version: "v1", Context: "/planter", ProductionURL: b.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/*"}}})
	r := e.call("GET", "/planter/v1/x", token, nil)
	if r.status != 200 {
		t.Fatalf("call: %d %v", r.status, r.body)
	}
	if got := r.header.Values("Set-Cookie"); !slices.Equal(got, []string{"theme=dark; Path=/"}) {
		t.Errorf("Set-Cookie passed on: %q, want only theme=dark", got)
	}
	if v := r.header.Get("Clear-Site-Data"); v != "" {
		t.Errorf("Clear-Site-Data passed on: %q", v)
	}

	// A 103 Early Hints goes out before the answer, cleaned the same way.
	var hints []textproto.MIMEHeader
	req, _ := http.NewRequest("GET", e.api.URL+"/planter/v1/hints", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(_ int, h textproto.MIMEHeader) error { hints = append(hints, h); return nil }}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(hints) != 1 || hints[0].Get("Link") == "" || !slices.Equal(hints[0].Values("Set-Cookie"), []string{"theme=dark; Path=/"}) ||
		hints[0].Get("Server") != "" || hints[0].Get("Clear-Site-Data") != "" {
		t.Errorf("103 Early Hints passed on: %v", hints)
	}
}

// TestBackendSoftwareHeadersAreDropped: Server, X-Powered-By and the like
// (gateway.DefaultDroppedResponseHeaders) name a backend's software and
// version to every caller; they are dropped unless configured otherwise
// (--gateway-drop-response-headers).
func TestBackendSoftwareHeadersAreDropped(t *testing.T) {
	for _, tt := range []struct {
		name    string
		drop    []string
		dropped []string
		kept    []string
	}{
		{"default", nil, []string{"Server", "X-Powered-By", "X-Aspnet-Version"}, []string{"X-Backend"}},
		{"none", []string{}, nil, []string{"Server", "X-Powered-By", "X-Backend"}},
		{"own list", []string{"X-Backend", "server"}, []string{"X-Backend", "Server"}, []string{"X-Powered-By"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, gateway.Config{DropResponseHeaders: tt.drop})
			b := plantingBackend(t)
			token := e.publish(&portal.API{Name: "Planter", Version: "v1", Context: "/planter", ProductionURL: b.URL,
				Resources: []portal.Resource{{Method: "GET", Path: "/*"}}})
			r := e.call("GET", "/planter/v1/x", token, nil)
			for _, h := range tt.dropped {
				if v := r.header.Get(h); v != "" {
					t.Errorf("%s passed on: %q", h, v)
				}
			}
			for _, h := range tt.kept {
				if r.header.Get(h) == "" {
					t.Errorf("%s dropped", h)
				}
			}
		})
	}
}

// TestMethodOverridesAreRefused: X-HTTP-Method-Override and its kin, and
// a _method query parameter, let a framework treat a GET as a DELETE; the
// gateway matched (and checked the scope of) the GET. A call naming
// another method than its own is refused with 400; one naming its own
// method goes through without the header. URL overrides (X-Original-URL,
// X-Rewrite-URL) never reach the backend.
func TestMethodOverridesAreRefused(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	read := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	for _, tt := range []struct {
		name, method, path string
		header             []string
	}{
		{"X-HTTP-Method-Override", "GET", "/pizzashack/1.0.0/order/1", []string{"X-HTTP-Method-Override", "DELETE"}},
		{"X-HTTP-Method", "GET", "/pizzashack/1.0.0/order/1", []string{"X-HTTP-Method", "delete"}},
		{"X-Method-Override", "GET", "/pizzashack/1.0.0/order/1", []string{"X-Method-Override", "PUT"}},
		{"_method", "GET", "/pizzashack/1.0.0/order/1?_method=DELETE", nil},
		{"two methods", "GET", "/pizzashack/1.0.0/order/1", []string{"X-HTTP-Method-Override", "GET", "X-HTTP-Method", "POST"}},
	} {
		r := e.call(tt.method, tt.path, read, nil, tt.header...)
		if desc, _ := r.fault["description"].(string); r.status != 400 || !strings.Contains(desc, "method") {
			t.Errorf("%s: %d %v, want 400", tt.name, r.status, r.body)
		}
	}
	r := e.call("GET", "/pizzashack/1.0.0/order/1?_method=get", read, nil, "X-HTTP-Method-Override", "GET",
		"X-Original-URL", "/admin", "X-Rewrite-URL", "/admin")
	header, _ := r.body["header"].(map[string]any)
	if r.status != 200 || header["X-Http-Method-Override"] != nil || header["X-Original-Url"] != nil || header["X-Rewrite-Url"] != nil {
		t.Errorf("override naming the call's own method, URL overrides: %d %v", r.status, header)
	}
}

// TestPassMethodOverridePerAPI: without the server-wide setting, an API
// whose PassMethodOverride is set has its method overrides passed on and
// checked as both methods, by both the direct path (GET) and ReverseProxy
// (POST), while another API of the same gateway refuses them; a change of
// the setting holds from the next request.
func TestPassMethodOverridePerAPI(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	items := &portal.API{Name: "Items", Version: "v1", Context: "/items", ProductionURL: e.prod.URL, PassMethodOverride: true,
		Resources: []portal.Resource{{Method: "GET", Path: "/item"}, {Method: "POST", Path: "/item", Scope: "read"},
			{Method: "DELETE", Path: "/item", Scope: "update"}}}
	none := e.publish(items)
	read := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	update := e.token(e.alice.prodKey, e.alice.prodSecret, "update")
	both := e.token(e.alice.prodKey, e.alice.prodSecret, "read update")
	type call struct {
		name, method, path, token string
		header                    []string
		status                    int
		passed                    string // the header or query that must reach the backend
	}
	check := func(when string, calls []call) {
		t.Helper()
		for _, tt := range calls {
			r := e.call(tt.method, tt.path, tt.token, nil, tt.header...)
			if r.status != tt.status {
				t.Errorf("%s, %s: %d %v, want %d", when, tt.name, r.status, r.body, tt.status)
				continue
			}
			header, _ := r.body["header"].(map[string]any)
			query, _ := r.body["query"].(string)
			switch {
			case tt.passed == "_method" && !strings.Contains(query, "_method=DELETE"):
				t.Errorf("%s, %s: the query did not reach the backend: %q", when, tt.name, query)
			case tt.passed != "" && tt.passed != "_method" && header[tt.passed] == nil:
				t.Errorf("%s, %s: %s did not reach the backend: %v", when, tt.name, tt.passed, header)
			}
			if desc, _ := r.fault["description"].(string); tt.status == 400 && !strings.Contains(desc, "method") {
				t.Errorf("%s, %s: %q, want a refusal naming the method", when, tt.name, desc)
			}
		}
	}
	check("Items passes", []call{
		{"GET as DELETE without its scope", "GET", "/items/v1/item", none, []string{"X-HTTP-Method-Override", "DELETE"}, 403, ""},
		{"GET as DELETE with its scope", "GET", "/items/v1/item", update, []string{"X-HTTP-Method-Override", "DELETE"}, 200, "X-Http-Method-Override"},
		{"GET as DELETE by _method", "GET", "/items/v1/item?_method=DELETE", update, nil, 200, "_method"},
		{"POST as DELETE without the POST's scope", "POST", "/items/v1/item", update, []string{"X-Method-Override", "DELETE"}, 403, ""},
		{"POST as DELETE with both scopes", "POST", "/items/v1/item", both, []string{"X-Method-Override", "DELETE"}, 200, "X-Method-Override"},
		{"GET as PATCH, which has no resource", "GET", "/items/v1/item", both, []string{"X-HTTP-Method", "PATCH"}, 405, ""},
		{"PizzaShack refuses", "GET", "/pizzashack/1.0.0/order/1", both, []string{"X-HTTP-Method-Override", "DELETE"}, 400, ""},
		{"PizzaShack refuses _method", "GET", "/pizzashack/1.0.0/order/1?_method=DELETE", both, nil, 400, ""},
	})

	items.PassMethodOverride = false
	e.pizza.PassMethodOverride = true
	e.pizza.Resources = append(e.pizza.Resources, portal.Resource{Method: "DELETE", Path: "/order/{orderId}", Scope: "update"})
	for _, a := range []*portal.API{items, e.pizza} {
		if err := e.db.UpdateAPI(e.ctx, a, nil); err != nil {
			t.Fatal(err)
		}
	}
	check("PizzaShack passes", []call{
		{"Items refuses", "GET", "/items/v1/item", update, []string{"X-HTTP-Method-Override", "DELETE"}, 400, ""},
		{"Items refuses _method", "POST", "/items/v1/item?_method=DELETE", both, nil, 400, ""},
		{"PizzaShack GET as DELETE without its scope", "GET", "/pizzashack/1.0.0/order/1", read, []string{"X-HTTP-Method-Override", "DELETE"}, 403, ""},
		{"PizzaShack GET as DELETE with both scopes", "GET", "/pizzashack/1.0.0/order/1", both, []string{"X-HTTP-Method-Override", "DELETE"}, 200, "X-Http-Method-Override"},
	})
	r := e.call("GET", "/items/v1/item", none, nil, "X-HTTP-Method-Override", "GET")
	if header, _ := r.body["header"].(map[string]any); r.status != 200 || header["X-Http-Method-Override"] != nil {
		t.Errorf("Items, override naming the call's own method: %d %v, want it dropped", r.status, header)
	}
}

// TestPassMethodOverride: with PassMethodOverride
// (--gateway-pass-method-override) the headers go to the backend, and the
// call must be allowed both as the method it is sent with and as the one
// it names: the resource of each must exist and each one's scope is
// checked, as the backend may honour either.
func TestPassMethodOverride(t *testing.T) {
	e := newEnv(t, gateway.Config{PassMethodOverride: true})
	api := &portal.API{Name: "Items", Version: "v1", Context: "/items", ProductionURL: e.prod.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/item"}, {Method: "POST", Path: "/item", Scope: "read"},
			{Method: "DELETE", Path: "/item", Scope: "update"}}}
	none := e.publish(api)
	update := e.token(e.alice.prodKey, e.alice.prodSecret, "update")
	both := e.token(e.alice.prodKey, e.alice.prodSecret, "read update")
	for _, tt := range []struct {
		name, method, override, token string
		status                        int
	}{
		{"GET as DELETE without its scope", "GET", "DELETE", none, 403},
		{"GET as DELETE with its scope", "GET", "DELETE", update, 200},
		{"POST as DELETE without the POST's scope", "POST", "DELETE", update, 403},
		{"POST as DELETE with both scopes", "POST", "DELETE", both, 200},
		{"GET as PATCH, which has no resource", "GET", "PATCH", both, 405},
	} {
		r := e.call(tt.method, "/items/v1/item", tt.token, nil, "X-HTTP-Method-Override", tt.override)
		if r.status != tt.status {
			t.Errorf("%s: %d %v, want %d", tt.name, r.status, r.body, tt.status)
			continue
		}
		if header, _ := r.body["header"].(map[string]any); tt.status == 200 && header["X-Http-Method-Override"] == nil {
			t.Errorf("%s: the header did not reach the backend: %v", tt.name, header)
		}
	}
}
