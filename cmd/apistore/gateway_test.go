package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/portal"
)

// runOK runs a subcommand and returns its output, failing the test on error.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), withDatabase(args), strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("apistore %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

// runFails runs a subcommand that must fail and returns its error output.
func runFails(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), withDatabase(args), strings.NewReader(""), &out, &errOut); code == 0 {
		t.Fatalf("apistore %s succeeded: %s", strings.Join(args, " "), out.String())
	}
	return errOut.String()
}

// startServe runs `apistore serve` on free ports and returns its plain HTTP
// URL and a function that stops it.
func startServe(t *testing.T, dataDir string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		done <- run(ctx, withDatabase([]string{"serve", "--data-dir", dataDir, "--store-port", "0", "--https-port", "0", "--http-port", "0",
			"--metrics-addr", "127.0.0.1:0"}),
			strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	base := ""
	for base == "" && lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "http: "); ok {
			base = u
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("serve printed no http URL (exit %d)", <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return base, func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited with %d", code)
		}
	}
}

// subscribe subscribes an owner's application to the API of a context, as
// the store's Subscribe button does.
func subscribe(t *testing.T, dataDir, owner, context string) {
	t.Helper()
	ctx := t.Context()
	d := openStore(t, dataDir)
	u, err := d.UserAccount(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := d.ApplicationsByOwner(ctx, u.ID)
	if err != nil || len(apps) != 1 {
		t.Fatalf("applications of %s: %v %v", owner, apps, err)
	}
	apis, err := d.PublishedAPIs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apis {
		if a.Context == context {
			if err := d.Subscribe(ctx, apps[0].ID, a.ID, "Unlimited"); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no API at %s", context)
}

// TestSampleAPI: the PizzaShack sample API answers through the gateway on
// first start, and again after a restart, when its backend has another port;
// apistore user delete, run meanwhile, ends the user's access at once.
func TestSampleAPI(t *testing.T) {
	dataDir := newDataDir(t)
	runOK(t, "user", "create", "--data-dir", dataDir, "--username", "alice", "--password", "a-long-password", "--role", "subscriber")
	base, stop := startServe(t, dataDir)
	var keys struct {
		Production map[string]string `json:"production"`
	}
	if err := json.Unmarshal([]byte(runOK(t, "app", "create", "--data-dir", dataDir, "--owner", "alice", "--name", "Pizza")), &keys); err != nil {
		t.Fatal(err)
	}
	subscribe(t, dataDir, "alice", "/pizzashack")

	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read update"}}
	req, _ := http.NewRequest("POST", base+"/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth(keys.Production["consumer_key"], keys.Production["consumer_secret"])
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	call(t, req, 200, &tok)

	var menu []map[string]any
	call(t, bearer(t, "GET", base+"/pizzashack/1.0.0/menu", tok.AccessToken, ""), 200, &menu)
	if len(menu) == 0 || menu[0]["name"] == nil {
		t.Fatalf("menu %v", menu)
	}
	var order map[string]any
	call(t, bearer(t, "POST", base+"/pizzashack/1.0.0/order", tok.AccessToken, `{"pizzaType":"Pepperoni","quantity":2,"customerName":"Alice"}`), 201, &order)
	call(t, bearer(t, "GET", base+"/pizzashack/1.0.0/order/"+order["orderId"].(string), tok.AccessToken, ""), 200, &order)
	if order["pizzaType"] != "Pepperoni" {
		t.Errorf("order %v", order)
	}
	stop()

	base, stop = startServe(t, dataDir)
	defer stop()
	call(t, bearer(t, "GET", base+"/pizzashack/1.0.0/menu", tok.AccessToken, ""), 200, &menu)
	// The sample endpoint is a name that each run (and each node of a
	// cluster) serves on its own port, not the port of one run: an API
	// copied from it works after a restart too.
	sample, err := openStore(t, dataDir).APIByContext(t.Context(), "/pizzashack", "1.0.0")
	if err != nil || sample.ProductionURL != portal.SampleEndpoint || sample.SandboxURL != portal.SampleEndpoint {
		t.Fatalf("the sample API's endpoints: %+v, %v", sample, err)
	}

	// apistore user delete, another process for SQLite, cuts access at once.
	runOK(t, "user", "delete", "--data-dir", dataDir, "--username", "alice")
	var fault struct{ Fault struct{ Code int } }
	call(t, bearer(t, "GET", base+"/pizzashack/1.0.0/menu", tok.AccessToken, ""), 401, &fault)
	if fault.Fault.Code != 900901 {
		t.Errorf("after user delete: fault %+v, want 900901", fault)
	}
}

func bearer(t *testing.T, method, url, token, body string) *http.Request {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

func call(t *testing.T, req *http.Request, status int, into any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", req.Method, req.URL.Path, resp.StatusCode, body, status)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("%s %s: %v in %s", req.Method, req.URL.Path, err, body)
	}
}

func TestAPIImportCommand(t *testing.T) {
	dataDir := newDataDir(t)
	doc := filepath.Join(dataDir, "weather.yaml")
	os.WriteFile(doc, []byte(`openapi: 3.0.3
info: {title: Weather, version: v1}
servers: [{url: "https://weather.example.com"}]
components:
  securitySchemes:
    oauth: {type: oauth2, flows: {clientCredentials: {tokenUrl: /token, scopes: {forecast: See the forecast}}}}
paths:
  /today:
    get:
      security: [{oauth: [forecast]}]
      responses: {"200": {description: ok}}
`), 0o600)
	out := runOK(t, "api", "import", doc, "--data-dir", dataDir)
	if !strings.Contains(out, "published Weather v1 at /weather/v1: 1 resources, scopes: forecast") {
		t.Errorf("output %q", out)
	}
	if msg := runFails(t, "api", "import", doc, "--data-dir", dataDir); !strings.Contains(msg, "already exists") {
		t.Errorf("second import: %q", msg)
	}
	// /weather/v1/today/v2 would sit under Weather's prefix: refused, naming it.
	if msg := runFails(t, "api", "import", doc, "--data-dir", dataDir, "--context", "/weather/v1/today"); !strings.Contains(msg,
		"context /weather/v1/today: the gateway path /weather/v1/today/v1/… overlaps that of the API Weather v1 (/weather/v1/…)") {
		t.Errorf("overlapping import: %q", msg)
	}
	// --update replaces the resources and the definition, keeps the API
	// (and so its subscriptions) and its CORS settings.
	st := openStore(t, dataDir)
	before, err := st.APIByContext(context.Background(), "/weather", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(before.Definition), `"/today"`) {
		t.Errorf("the imported document is not kept: %q", before.Definition)
	}
	before.CORS = portal.CORS{Origins: []string{"https://app.example.com"}}
	if err := st.UpdateAPI(context.Background(), before, nil); err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(dataDir, "weather2.yaml")
	os.WriteFile(changed, []byte(`openapi: 3.0.3
info: {title: Weather, version: v1, description: Now with alerts}
servers: [{url: "https://weather.example.com"}]
paths:
  /today: {get: {responses: {"200": {description: ok}}}}
  /alerts: {get: {x-scope: alerts, responses: {"200": {description: ok}}}}
`), 0o600)
	if out := runOK(t, "api", "import", "--data-dir", dataDir, "--update", changed); !strings.Contains(out, "updated Weather v1 at /weather/v1: 2 resources, scopes: alerts") {
		t.Errorf("update output %q", out)
	}
	after, err := openStore(t, dataDir).APIByContext(context.Background(), "/weather", "v1")
	if err != nil || after.ID != before.ID || len(after.Resources) != 2 || after.Description != "Now with alerts" ||
		!strings.Contains(string(after.Definition), `"/alerts"`) || !slices.Equal(after.CORS.Origins, before.CORS.Origins) {
		t.Errorf("after --update: %+v %v", after, err)
	}
	if msg := runFails(t, "api", "import", changed, "--update", "--data-dir", dataDir, "--context", "/nowhere"); !strings.Contains(msg, "no API with context /nowhere and version v1 to update") {
		t.Errorf("--update of nothing: %q", msg)
	}
	broken := filepath.Join(dataDir, "broken.json")
	os.WriteFile(broken, []byte(`{"openapi": "3.0.0", "info": {"title": "B", "version": "1"}, "paths": {"/x": {"get": {"responses": {"200": {"description": "ok"}}}}}}`), 0o600)
	if msg := runFails(t, "api", "import", "--data-dir", dataDir, "--file", broken); !strings.Contains(msg, "broken.json: the document has no servers") {
		t.Errorf("broken import: %q", msg)
	}
	if msg := runFails(t, "api", "import", "--data-dir", dataDir, filepath.Join(dataDir, "missing.yaml")); !strings.Contains(msg, "no such file") {
		t.Errorf("missing file: %q", msg)
	}
}

func TestUserDeleteCommand(t *testing.T) {
	dataDir := newDataDir(t)
	runOK(t, "user", "create", "--data-dir", dataDir, "--username", "bob", "--password", "a-long-password")
	if out := runOK(t, "user", "delete", "--data-dir", dataDir, "--username", "BOB"); out != "deleted user BOB\n" {
		t.Errorf("output %q", out)
	}
	if msg := runFails(t, "user", "delete", "--data-dir", dataDir, "--username", "bob"); !strings.Contains(msg, `no user "bob"`) {
		t.Errorf("second delete: %q", msg)
	}
}

// TestFileArgumentBeatsEnvironment checks that FILE given on the command line
// wins over APISTORE_FILE, as every flag wins over its variable, and that two
// different files on the command line are refused.
func TestFileArgumentBeatsEnvironment(t *testing.T) {
	dataDir := newDataDir(t)
	runOK(t, "scope", "create", "--data-dir", dataDir, "--name", "read")
	fromEnv, fromArg := filepath.Join(dataDir, "env.db"), filepath.Join(dataDir, "arg.db")
	t.Setenv("APISTORE_FILE", fromEnv)
	runOK(t, "backup", fromArg, "--data-dir", dataDir)
	if _, err := os.Stat(fromArg); err != nil {
		t.Errorf("backup FILE with APISTORE_FILE set: %v", err)
	}
	if _, err := os.Stat(fromEnv); err == nil {
		t.Error("backup FILE wrote APISTORE_FILE instead")
	}
	other := filepath.Join(dataDir, "other.db")
	if msg := runFails(t, "backup", "--data-dir", dataDir, "--file", other, fromEnv); !strings.Contains(msg, "give one") {
		t.Errorf("backup --file A B: %q", msg)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("backup --file A B wrote A")
	}
}

// TestGatewayHeaderFlags: --gateway-drop-response-headers replaces the
// list of backend headers callers never see (empty: none), and
// --gateway-pass-method-override passes method overrides on.
func TestGatewayHeaderFlags(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		drop     []string
		override bool
		err      string
	}{
		{nil, gateway.DefaultDroppedResponseHeaders, false, ""},
		{[]string{"--gateway-drop-response-headers", ""}, []string{}, false, ""},
		{[]string{"--gateway-drop-response-headers", "None"}, []string{}, false, ""},
		{[]string{"--gateway-drop-response-headers", "server, x-internal-node,"}, []string{"Server", "X-Internal-Node"}, false, ""},
		{[]string{"--gateway-pass-method-override"}, gateway.DefaultDroppedResponseHeaders, true, ""},
		{[]string{"--gateway-drop-response-headers", "Server,X Node"}, nil, false, `"X Node" is not a header name`},
	} {
		fs := newFlags("serve", "", stdio{out: io.Discard, err: io.Discard})
		g := addGatewayFlags(fs)
		err := parseFlags(fs, tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v, want %s", tt.args, err, tt.err)
			}
			continue
		}
		cfg, cerr := g.config()
		if err != nil || cerr != nil || !slices.Equal(cfg.DropResponseHeaders, tt.drop) || (cfg.DropResponseHeaders == nil) ||
			cfg.PassMethodOverride != tt.override {
			t.Errorf("%q: %q %v (%v %v), want %q %v", tt.args, cfg.DropResponseHeaders, cfg.PassMethodOverride, err, cerr, tt.drop, tt.override)
		}
	}
}

// TestAPIImportPassMethodOverride: api import --pass-method-override (or
// APISTORE_PASS_METHOD_OVERRIDE) sets the API's setting, a boolean flag
// just before FILE leaves FILE to be FILE, and --update keeps the setting
// unless the flag is given.
func TestAPIImportPassMethodOverride(t *testing.T) {
	dataDir := newDataDir(t)
	doc := filepath.Join(dataDir, "items.yaml")
	os.WriteFile(doc, []byte(`openapi: 3.0.3
info: {title: Items, version: v1}
servers: [{url: "https://items.example.com"}]
paths:
  /item: {get: {responses: {"200": {description: ok}}}, delete: {x-scope: update, responses: {"200": {description: ok}}}}
`), 0o600)
	passes := func(when string, want bool) {
		t.Helper()
		a, err := openStore(t, dataDir).APIByContext(context.Background(), "/items", "v1")
		if err != nil || a.PassMethodOverride != want {
			t.Errorf("%s: %+v %v, want PassMethodOverride %v", when, a, err, want)
		}
	}
	runOK(t, "api", "import", "--data-dir", dataDir, "--pass-method-override", doc)
	passes("imported with the flag", true)
	runOK(t, "api", "import", "--data-dir", dataDir, "--update", doc)
	passes("updated without the flag", true)
	runOK(t, "api", "import", "--data-dir", dataDir, "--update", "--pass-method-override=false", doc)
	passes("updated with --pass-method-override=false", false)
	t.Setenv("APISTORE_PASS_METHOD_OVERRIDE", "true")
	runOK(t, "api", "import", doc, "--data-dir", dataDir, "--update")
	passes("updated with APISTORE_PASS_METHOD_OVERRIDE=true", true)
	t.Setenv("APISTORE_PASS_METHOD_OVERRIDE", "")
	runOK(t, "api", "import", "--data-dir", dataDir, "--context", "/things", doc)
	if a, err := openStore(t, dataDir).APIByContext(context.Background(), "/things", "v1"); err != nil || a.PassMethodOverride {
		t.Errorf("imported without the flag: %+v %v, want method overrides refused", a, err)
	}
}
