package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/web"
)

// keys are an application's consumer keys and secrets.
type keys struct {
	appID, prodKeyID    int64
	prodKey, prodSecret string
	sandKey, sandSecret string
}

// env is a database, the real API application (/token and the gateway)
// over httptest, and production and sandbox backends.
type env struct {
	t       testing.TB
	ctx     context.Context
	db      db.Store
	gw      *gateway.Gateway
	clock   *fixture.Clock
	api     *httptest.Server
	prod    *httptest.Server
	sandbox *httptest.Server
	pizza   *portal.API
	alice   keys
	oauth   *oauth.Server
}

// backend answers with what it received, so tests see what was forwarded.
func backend(name string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Backend", name)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"backend": name, "method": r.Method, "path": r.URL.Path, "rawPath": r.URL.RawPath, "query": r.URL.RawQuery,
			"host": r.Host, "header": r.Header, "body": string(body),
		})
	}))
}

func newEnv(t testing.TB, cfg gateway.Config) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: fixture.NewClock(time.Date(2026, 11, 22, 12, 0, 30, 0, time.UTC))}
	d := fixture.DB(t)
	e.db = d
	e.prod, e.sandbox = backend("production"), backend("sandbox")
	t.Cleanup(e.prod.Close)
	t.Cleanup(e.sandbox.Close)
	for _, s := range []oauth.Scope{{Name: "read", Description: "Read orders"}, {Name: "update", Description: "Change orders", Roles: []string{"admin"}}} {
		if err := d.PutScope(e.ctx, "", s); err != nil {
			t.Fatal(err)
		}
	}
	e.pizza = &portal.API{Name: "PizzaShackAPI", Version: "1.0.0", Context: "/pizzashack",
		ProductionURL: e.prod.URL + "/base", SandboxURL: e.sandbox.URL,
		Resources: []portal.Resource{
			{Method: "GET", Path: "/menu"},
			{Method: "POST", Path: "/order", Scope: "update"},
			{Method: "GET", Path: "/order/{orderId}", Scope: "read"},
			{Method: "GET", Path: "/files/*"},
		}}
	if err := gateway.Check(e.pizza); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateAPI(e.ctx, e.pizza); err != nil {
		t.Fatal(err)
	}
	e.alice = e.newApp("alice", "admin")
	e.subscribe(e.alice.appID, e.pizza.ID, "Unlimited")

	o := oauth.NewServer(d, oauth.Validity{}, e.clock.Now)
	e.oauth = o
	cfg.Now = e.clock.Now
	e.gw = gateway.New(o, d, cfg)
	e.api = httptest.NewServer(web.New(web.Config{Gateway: e.gw}, handlers.New(o, d)).API())
	t.Cleanup(func() {
		e.api.Close()
		e.gw.Close()
		d.Close()
	})
	return e
}

// newApp adds a user and an application with both keys.
func (e *env) newApp(username string, roles ...string) keys {
	e.t.Helper()
	prod, sand := fixture.App(e.t, e.db, fixture.User(e.t, e.db, username, username+"-password", roles...), "app")
	return keys{appID: prod.AppID, prodKeyID: prod.KeyID, prodKey: prod.ConsumerKey, prodSecret: prod.Secret,
		sandKey: sand.ConsumerKey, sandSecret: sand.Secret}
}

// subscribe subscribes an application to an API.
func (e *env) subscribe(appID, apiID int64, tier string) {
	e.t.Helper()
	if err := e.db.Subscribe(e.ctx, appID, apiID, tier); err != nil {
		e.t.Fatal(err)
	}
}

// publish stores api, subscribes alice's application to it on the
// Unlimited tier and returns a production access token of hers.
func (e *env) publish(api *portal.API) string {
	e.t.Helper()
	if err := e.db.CreateAPI(e.ctx, api); err != nil {
		e.t.Fatal(err)
	}
	e.subscribe(e.alice.appID, api.ID, "Unlimited")
	return e.token(e.alice.prodKey, e.alice.prodSecret, "")
}

// token gets an application token at /token (client_credentials grant).
func (e *env) token(key, secret, scope string) string {
	e.t.Helper()
	return e.issue(key, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
}

// userToken gets a user's token at /token with the password grant, as in
// the WSO2 docs (newApp's users have the password username-password).
func (e *env) userToken(key, secret, username, scope string) string {
	e.t.Helper()
	return e.issue(key, secret, url.Values{"grant_type": {"password"}, "username": {username},
		"password": {username + "-password"}, "scope": {scope}})
}

// issue posts a token request and returns the access token, checking that
// the requested scope was granted.
func (e *env) issue(key, secret string, form url.Values) string {
	e.t.Helper()
	resp := e.postToken(key, secret, form)
	defer resp.Body.Close()
	var tr oauth.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 || tr.AccessToken == "" {
		e.t.Fatalf("token: status %d, err %v", resp.StatusCode, err)
	}
	if scope := form.Get("scope"); scope != "" && tr.Scope != scope {
		e.t.Fatalf("token scope %q, want %q", tr.Scope, scope)
	}
	return tr.AccessToken
}

// tokenStatus is the status /token answers for a client_credentials request.
func (e *env) tokenStatus(key, secret string) int {
	e.t.Helper()
	resp := e.postToken(key, secret, url.Values{"grant_type": {"client_credentials"}})
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) postToken(key, secret string, form url.Values) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.api.URL+"/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth(key, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// result is a gateway answer.
type result struct {
	status    int
	header    http.Header
	body      map[string]any
	fault     map[string]any
	challenge string
}

// call calls the gateway; token "" sends no Authorization header.
func (e *env) call(method, path, token string, body io.Reader, extra ...string) result {
	e.t.Helper()
	req, err := http.NewRequest(method, e.api.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Add(extra[i], extra[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	r := result{status: resp.StatusCode, header: resp.Header, challenge: resp.Header.Get("WWW-Authenticate")}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &r.body)
	if f, ok := r.body["fault"].(map[string]any); ok {
		r.fault = f
	}
	return r
}

// code is the WSO2 fault code of a refusal, or 0.
func (r result) code() int {
	if c, ok := r.fault["code"].(float64); ok {
		return int(c)
	}
	return 0
}
