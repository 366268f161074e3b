package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/getkin/kin-openapi/openapi3"
)

// sampleID is the id of the sample API.
func (e *storeEnv) sampleID() int64 {
	e.t.Helper()
	s := portal.SampleAPI()
	a, err := e.db.APIByContext(context.Background(), s.Context, s.Version)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

// TestDefinitionDownload checks the JSON and YAML definitions the store
// offers: valid, the gateway's URLs as servers, downloads by name.
func TestDefinitionDownload(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	id := env.sampleID()
	for _, ext := range []string{"json", "yaml"} {
		p := b.get(fmt.Sprintf("/store/apis/%d/openapi.%s", id, ext))
		if p.status != http.StatusOK {
			t.Fatalf("%s: status %d", ext, p.status)
		}
		if got := p.header.Get("Content-Disposition"); got != `attachment; filename="pizzashack-1.0.0.`+ext+`"` {
			t.Errorf("%s: Content-Disposition %q", ext, got)
		}
		doc, err := openapi3.NewLoader().LoadFromData([]byte(p.body))
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Errorf("%s: %v", ext, err)
		}
		if len(doc.Servers) == 0 || !strings.HasPrefix(doc.Servers[0].URL, env.srv.URL+"/pizzashack/1.0.0") {
			t.Errorf("%s: servers %v, want the gateway's", ext, doc.Servers)
		}
		if strings.Contains(p.body, portal.SampleEndpoint) {
			t.Errorf("%s names the backend", ext)
		}
	}
	if p := b.get("/store/apis/999/openapi.json"); p.status != http.StatusNotFound {
		t.Errorf("an unknown API's definition: status %d", p.status)
	}
}

// TestAPIPageCallAndTry checks an API page a developer can act on: the
// gateway and token URLs and a curl command per operation, with the
// developer's consumer key once there is one, and the console.
func TestAPIPageCallAndTry(t *testing.T) {
	env := newStore(t)
	id := env.sampleID()
	page := fmt.Sprintf("/store/apis/%d", id)
	visitor := env.browser().get(page).body
	mustContain(t, visitor, "Call this API", env.srv.URL+"/pizzashack/1.0.0", env.srv.URL+"/token",
		html.EscapeString(`curl -X POST "`+env.srv.URL+`/pizzashack/1.0.0/order"`), "CONSUMER_KEY:CONSUMER_SECRET",
		html.EscapeString(`"pizzaType":"Pepperoni"`)[:10], "/pizzashack/1.0.0/order/1", "Log in</a> to try this API")

	b := env.browser()
	b.signUp("alice", "alice-password")
	app := b.addApplication("Shop")
	if p := b.submit(page+"/subscribe", url.Values{"app": {fmt.Sprint(app)}, "tier": {"Gold"}}); p.status != http.StatusSeeOther {
		t.Fatalf("subscribe: %d", p.status)
	}
	mustContain(t, b.get(page).body, "generate its keys")
	gen := b.submit(fmt.Sprintf("/store/subscriptions/%d/production/generate", app), url.Values{"validity": {"3600"},
		"grant_types": {"client_credentials"}})
	key := shown(t, gen.body, "production-consumer-key")
	body := b.get(page).body
	mustContain(t, body, key+":CONSUMER_SECRET", "Production key of Shop", `id="console"`, `data-gateway="`+env.srv.URL+`/pizzashack/1.0.0"`,
		`value="production"`, `/store/static/console.js`)
	mustNotContain(t, body, `value="sandbox"`)
}

// TestConsoleToken checks the console's token endpoint: a short-lived token
// of the user's own subscribed key, marked and audited as the console's;
// anything else is refused.
func TestConsoleToken(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	id := env.sampleID()
	endpoint := fmt.Sprintf("/store/apis/%d/console/token", id)
	b := env.browser()
	b.signUp("alice", "alice-password")
	app := b.addApplication("Shop")
	unsubscribed := b.addApplication("Other")
	b.submit(fmt.Sprintf("/store/apis/%d/subscribe", id), url.Values{"app": {fmt.Sprint(app)}, "tier": {"Gold"}})
	b.submit(fmt.Sprintf("/store/subscriptions/%d/production/generate", unsubscribed), url.Values{"validity": {"3600"}, "grant_types": {"client_credentials"}})

	// Before keys: refused.
	if p := b.submit(endpoint, url.Values{"app": {fmt.Sprint(app)}, "type": {"production"}}); p.status != http.StatusConflict ||
		!strings.Contains(p.body, "Generate") {
		t.Errorf("without keys: %d %s", p.status, p.body)
	}
	b.submit(fmt.Sprintf("/store/subscriptions/%d/production/generate", app), url.Values{"validity": {"3600"}, "grant_types": {"client_credentials"}})

	bob := env.browser()
	bob.signUp("bob", "bob-password")
	refusals := []struct {
		name   string
		who    *browser
		form   url.Values
		status int
	}{
		{"another user's application", bob, url.Values{"app": {fmt.Sprint(app)}, "type": {"production"}}, http.StatusNotFound},
		{"an application not subscribed", b, url.Values{"app": {fmt.Sprint(unsubscribed)}, "type": {"production"}}, http.StatusForbidden},
		{"a key type without keys", b, url.Values{"app": {fmt.Sprint(app)}, "type": {"sandbox"}}, http.StatusConflict},
		{"an unknown key type", b, url.Values{"app": {fmt.Sprint(app)}, "type": {"staging"}}, http.StatusUnprocessableEntity},
		{"no application", b, url.Values{"type": {"production"}}, http.StatusUnprocessableEntity},
	}
	for _, tt := range refusals {
		if p := tt.who.submit(endpoint, tt.form); p.status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, p.status, tt.status, p.body)
		}
	}
	if p := b.post(endpoint, url.Values{"app": {fmt.Sprint(app)}, "type": {"production"}}); p.status != http.StatusForbidden {
		t.Errorf("without the form token: status %d", p.status)
	}
	if p := env.browser().post(endpoint, url.Values{"app": {fmt.Sprint(app)}, "type": {"production"}}); p.status == http.StatusOK {
		t.Error("a visitor got a token")
	}

	// The scopes the API's resources name and alice's roles allow; others dropped.
	p := b.submit(endpoint, url.Values{"app": {fmt.Sprint(app)}, "type": {"production"}, "scope": {"read", "update", "openid"}})
	if p.status != http.StatusOK || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %s", p.status, p.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
		ExpiresIn   int64  `json:"expires_in"`
		KeyType     string `json:"key_type"`
	}
	if err := json.Unmarshal([]byte(p.body), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Scope != "read update" || tok.ExpiresIn != int64(oauth.ConsoleValidity.Seconds()) || tok.KeyType != "PRODUCTION" {
		t.Errorf("token %+v", tok)
	}
	info, err := env.oauth.Validate(ctx, tok.AccessToken)
	if err != nil || info.GrantType != oauth.GrantConsole || info.AppID != app {
		t.Fatalf("token info %+v, %v", info, err)
	}
	events, err := env.db.AuditEvents(ctx, portal.AuditQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		if e.Event == portal.AuditConsoleToken && e.Username == "alice" && e.Client == info.ConsumerKey && strings.Contains(e.Detail, "PizzaShackAPI") {
			found = true
		}
		if strings.Contains(e.Detail, tok.AccessToken) {
			t.Error("the audit trail holds the token")
		}
	}
	if !found {
		t.Error("no console_token audit event")
	}
}

// TestAPIReference checks the reference page: RapiDoc over the API's
// definition, the one page whose policy lets inline styles in (its
// renderer's components carry them), scripts still the store's own.
func TestAPIReference(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	id := env.sampleID()
	p := b.get(fmt.Sprintf("/store/apis/%d/reference", id))
	if p.status != http.StatusOK {
		t.Fatalf("status %d", p.status)
	}
	mustContain(t, p.body, "<rapi-doc", fmt.Sprintf(`spec-url="/store/apis/%d/openapi.json"`, id), `src="/store/static/rapidoc-min.js"`, `allow-try="false"`)
	csp := p.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'self' 'unsafe-inline'") || !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "script-src") {
		t.Errorf("reference CSP %q", csp)
	}
	if csp := b.get(fmt.Sprintf("/store/apis/%d", id)).header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
		t.Errorf("API page CSP %q lets inline styles in", csp)
	}
	if js := b.get("/store/static/rapidoc-min.js"); js.status != http.StatusOK || !strings.HasPrefix(js.body, "/*! RapiDoc") {
		t.Errorf("the renderer: status %d", js.status)
	}
	if p := b.get("/store/apis/999/reference"); p.status != http.StatusNotFound {
		t.Errorf("an unknown API's reference: status %d", p.status)
	}
}

// TestUnreadableDefinition: an imported document that no longer reads does
// not take the API's pages down; one made from the resources stands in.
func TestUnreadableDefinition(t *testing.T) {
	env := newStore(t)
	a := &portal.API{Name: "Old", Version: "v1", Context: "/old", ProductionURL: "https://old.example.com",
		Resources: []portal.Resource{{Method: "GET", Path: "/things"}}, Definition: []byte(`{"openapi": "3.0.3", "paths": 7}`)}
	if err := env.db.CreateAPI(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	b := env.browser()
	if p := b.get(fmt.Sprintf("/store/apis/%d", a.ID)); p.status != http.StatusOK || !strings.Contains(p.body, "/old/v1/things") {
		t.Errorf("API page: %d", p.status)
	}
	p := b.get(fmt.Sprintf("/store/apis/%d/openapi.json", a.ID))
	doc, err := openapi3.NewLoader().LoadFromData([]byte(p.body))
	if p.status != http.StatusOK || err != nil || doc.Paths.Value("/things") == nil {
		t.Errorf("definition: %d %v", p.status, err)
	}
}
