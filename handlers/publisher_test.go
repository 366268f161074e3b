package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/portal"
)

// publisherForm is a valid create form, to be changed by each test.
func publisherForm() url.Values {
	return url.Values{
		"name": {"Weather"}, "version": {"v1"}, "context": {"/weather"}, "description": {"Forecasts <b>daily</b>"},
		"production_url": {"https://weather.example.com/api"}, "sandbox_url": {""},
		"tiers": {"Gold", "Bronze"}, "resources": {"GET /today\r\nGET /day/{date} read\r\nPOST /alerts alerts.write\r\n"},
		"new_scope_access": {"roles"}, "new_scope_roles": {"admin"},
	}
}

// publisher logs a browser in as a user with the admin role.
func (e *storeEnv) publisher(username string, roles ...string) *browser {
	e.t.Helper()
	fixture.User(e.t, e.db, username, username+"-password", roles...)
	b := e.browser()
	if p := b.logIn(username, username+"-password"); p.status != http.StatusSeeOther {
		e.t.Fatalf("log in %s: %d", username, p.status)
	}
	return b
}

func TestPublisherAccess(t *testing.T) {
	env := newStore(t)
	if p := env.browser().get("/store/publisher"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/store/login") {
		t.Errorf("anonymous: %d %s, want the log-in page", p.status, p.location)
	}
	sub := env.browser()
	sub.signUp("sam", "sam-password")
	if p := sub.get("/store/publisher"); p.status != http.StatusForbidden {
		t.Errorf("subscriber: %d, want 403", p.status)
	}
	if p := sub.submit("/store/publisher", publisherForm()); p.status != http.StatusForbidden {
		t.Errorf("subscriber's create: %d, want 403", p.status)
	}
	mustNotContain(t, sub.get("/store").body, `href="/store/publisher"`)
	for _, role := range []string{"admin", "publisher"} {
		b := env.publisher("a-"+role, role)
		p := b.get("/store/publisher")
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d", role, p.status)
		}
		mustContain(t, p.body, `href="/store/publisher"`, "PizzaShackAPI", "/pizzashack/1.0.0", "Create API", "Retire")
	}
}

func TestPublisherCreateEditRetire(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	b := env.publisher("root", "admin")
	if p := b.get("/store/publisher/new"); p.status != http.StatusOK {
		t.Fatalf("create form: %d", p.status)
	}
	p := b.submit("/store/publisher", publisherForm())
	if p.status != http.StatusSeeOther || p.location != "/store/publisher" {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	list := b.get("/store/publisher").body
	mustContain(t, list, "API Weather v1 published.", "/weather/v1", "https://weather.example.com/api")
	apis, err := env.db.AllAPIs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var w *portal.API
	for i := range apis {
		if apis[i].Context == "/weather" {
			w = &apis[i]
		}
	}
	if w == nil || w.Status != portal.APIPublished || len(w.Resources) != 3 || strings.Join(w.Tiers, " ") != "Gold Bronze" {
		t.Fatalf("stored API %+v", w)
	}
	// The new scope is registered with a description; read keeps its own.
	scopes, err := env.db.ScopesByName(ctx, "", []string{"alerts.write", "read"})
	if err != nil || len(scopes) != 2 {
		t.Fatalf("scopes %v %v", scopes, err)
	}
	for _, s := range scopes {
		if s.Description == "" || (s.Name == "read" && s.Description != portal.SampleScopes[0].Description) ||
			(s.Name == "alerts.write" && strings.Join(s.Roles, " ") != "admin") {
			t.Errorf("scope %+v", s)
		}
	}
	// The catalogue shows it, escaped.
	mustContain(t, env.browser().get("/store").body, "Weather", "Forecasts &lt;b&gt;daily&lt;/b&gt;")

	edit := b.get("/store/publisher/" + itoa(w.ID) + "/edit")
	mustContain(t, edit.body, `value="/weather"`, "GET /day/{date} read", "POST /alerts alerts.write")
	form := publisherForm()
	form.Set("resources", "GET /today\nGET /week")
	form.Set("sandbox_url", "https://sandbox.weather.example.com")
	if p := b.submit("/store/publisher/"+itoa(w.ID), form); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
	a, err := env.db.APIByID(ctx, w.ID)
	if err != nil || len(a.Resources) != 2 || a.SandboxURL != "https://sandbox.weather.example.com" {
		t.Fatalf("after edit: %+v %v", a, err)
	}

	if p := b.submit("/store/publisher/"+itoa(w.ID)+"/retire", nil); p.status != http.StatusSeeOther {
		t.Fatalf("retire: %d", p.status)
	}
	mustContain(t, b.get("/store/publisher").body, "retired", "Publish")
	mustNotContain(t, env.browser().get("/store").body, "Weather")
	if p := b.submit("/store/publisher/"+itoa(w.ID)+"/publish", nil); p.status != http.StatusSeeOther {
		t.Fatalf("publish: %d", p.status)
	}
	mustContain(t, env.browser().get("/store").body, "Weather")

	if p := b.get("/store/publisher/999/edit"); p.status != http.StatusNotFound {
		t.Errorf("unknown API: %d", p.status)
	}
	if p := b.post("/store/publisher/"+itoa(w.ID)+"/retire", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("retire without the form token: %d", p.status)
	}
}

func TestPublisherValidation(t *testing.T) {
	env := newStore(t)
	b := env.publisher("root", "admin")
	tests := []struct {
		name, field, value, message string
	}{
		{"no name", "name", "", "Fill this in."},
		{"name with a line break", "name", "Weather\nAPI", "Use visible characters only"},
		{"description with a NUL", "description", "Forecasts\x00", "Use text only"},
		{"bad context", "context", "weather", "it must start with /"},
		{"reserved context", "context", "/token", "is reserved for apistore"},
		{"bad version", "version", "v 1", "Version &#34;v 1&#34;"},
		{"bad endpoint", "production_url", "ftp://x", "Production endpoint: &#34;ftp://x&#34; is not an absolute http or https URL"},
		{"no tiers", "tiers", "", "Offer at least one tier."},
		{"no resources", "resources", "", "Fill this in."},
		{"bad resource line", "resources", "GET", "Line 1: write METHOD /path"},
		{"bad method", "resources", "FETCH /x", "unknown method"},
		{"bad template", "resources", "GET /a/{", "bad URL template part"},
		{"repeated parameter", "resources", "GET /a/{id}/{id}", "the parameter {id} appears twice"},
		{"path parameter in a template", "resources", "GET /a;v=1", "a ; cannot be called through the gateway"},
		{"every bad line, each on its own", "resources", "GET /ok\nGET\nFETCH /x\nGET /a/{id}/{id}\nGET /ok\nGET /fine read",
			"Line 2: write METHOD /path and an optional scope, e.g. POST /order update.\n" +
				"Line 3: resource FETCH /x: unknown method (methods: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS).\n" +
				"Line 4: resource GET /a/{id}/{id}: the parameter {id} appears twice; give each its own name.\n" +
				"Line 5: resource GET /ok is listed on line 1 already.</p>"},
		{"taken context", "context", "/pizzashack", ""},
		{"bad CORS origin", "cors_origins", "https://app.example.com/path", "Origin &#34;https://app.example.com/path&#34;: write scheme://host[:port]"},
		{"bad CORS header", "cors_headers", "X-Trace X(y)", "&#34;X(y)&#34; is not a header name"},
		{"bad CORS method", "cors_methods", "get", "&#34;get&#34; is not a method"},
		{"overlapping context", "context", "/pizzashack/1.0.0", "The gateway path /pizzashack/1.0.0/v1/… overlaps that of the API PizzaShackAPI 1.0.0 (/pizzashack/1.0.0/…)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := publisherForm()
			if tt.value == "" {
				form.Del(tt.field)
			} else {
				form.Set(tt.field, tt.value)
			}
			if tt.name == "taken context" {
				form.Set("version", "1.0.0")
				tt.message = "Another API already has this context and version."
			}
			p := b.submit("/store/publisher", form)
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", p.status)
			}
			mustContain(t, p.body, tt.message, "The API was not saved", "Forecasts")
			if tt.field == "tiers" { // the message is read out with the checkboxes' group
				mustContain(t, p.body, `<fieldset class="checks" aria-describedby="e-tiers">`, `<p class="error" id="e-tiers">`)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestPublisherNewScopesNeedRoles: a scope the Publisher page registers
// used to get no roles, so any user could be granted it. Who may be granted
// new scopes is now a choice the page asks for whenever the resources name
// scopes not registered yet: users with the roles named, or any user.
// Existing scopes keep their roles.
func TestPublisherNewScopesNeedRoles(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	b := env.publisher("root", "admin")
	form := publisherForm()
	form.Del("new_scope_access")
	form.Del("new_scope_roles")
	p := b.submit("/store/publisher", form)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("no choice: %d, want 422", p.status)
	}
	mustContain(t, p.body, "The resources add the scope alerts.write: choose who may be granted it.")
	for _, tt := range []struct{ access, roles, message string }{
		{"roles", "", "Name at least one role, or choose Any user."},
		{"roles", "admin, bad role!", "&#34;role!&#34; is not a role name"},
		{"everyone", "", "choose who may be granted it"},
	} {
		form.Set("new_scope_access", tt.access)
		form.Set("new_scope_roles", tt.roles)
		if p := b.submit("/store/publisher", form); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, tt.message) {
			t.Errorf("%s %q: %d, want 422 with %q", tt.access, tt.roles, p.status, tt.message)
		}
	}
	if s, _ := env.db.ScopesByName(ctx, "", []string{"alerts.write"}); len(s) != 0 {
		t.Fatalf("a refused form registered %+v", s)
	}
	form.Set("new_scope_access", "roles")
	form.Set("new_scope_roles", "admin, ops")
	if p := b.submit("/store/publisher", form); p.status != http.StatusSeeOther {
		t.Fatalf("with roles: %d\n%s", p.status, p.body)
	}
	mustContain(t, b.get("/store/publisher").body, "New scope alerts.write: users with the roles admin, ops.")
	w := apiByContext(t, env, "/weather")

	// Editing: a new scope for any user; alerts.write keeps its roles; no
	// new scope, no question.
	form.Set("resources", "POST /alerts alerts.write\nGET /alerts alerts.read")
	form.Set("new_scope_access", "anyone")
	form.Set("new_scope_roles", "ignored")
	if p := b.submit("/store/publisher/"+itoa(w.ID), form); p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", p.status, p.body)
	}
	scopes, err := env.db.ScopesByName(ctx, "", []string{"alerts.write", "alerts.read"})
	if err != nil || len(scopes) != 2 {
		t.Fatalf("scopes %+v %v", scopes, err)
	}
	for _, s := range scopes {
		if want := map[string]string{"alerts.write": "admin ops", "alerts.read": ""}[s.Name]; strings.Join(s.Roles, " ") != want {
			t.Errorf("scope %s: roles %q, want %q", s.Name, s.Roles, want)
		}
	}
	form.Del("new_scope_access")
	form.Del("new_scope_roles")
	if p := b.submit("/store/publisher/"+itoa(w.ID), form); p.status != http.StatusSeeOther {
		t.Errorf("edit without new scopes: %d", p.status)
	}
}

// apiByContext finds a stored API by its context.
func apiByContext(t *testing.T, env *storeEnv, context string) *portal.API {
	t.Helper()
	apis, err := env.db.AllAPIs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i := range apis {
		if apis[i].Context == context {
			return &apis[i]
		}
	}
	t.Fatalf("no API at %s", context)
	return nil
}

// TestPublisherCORSSettings checks that the Publisher form saves an API's
// CORS settings, shows them again and leaves them empty for the defaults.
func TestPublisherCORSSettings(t *testing.T) {
	env := newStore(t)
	b := env.publisher("root", "admin")
	form := publisherForm()
	form.Set("cors_origins", "https://app.example.com, http://localhost:3000")
	form.Set("cors_headers", "Authorization X-Trace")
	form.Set("cors_methods", "GET POST")
	if p := b.submit("/store/publisher", form); p.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	a := apiByContext(t, env, "/weather")
	want := portal.CORS{Origins: []string{"https://app.example.com", "http://localhost:3000"}, Headers: []string{"Authorization", "X-Trace"},
		Methods: []string{"GET", "POST"}}
	if !slices.Equal(a.CORS.Origins, want.Origins) || !slices.Equal(a.CORS.Headers, want.Headers) || !slices.Equal(a.CORS.Methods, want.Methods) {
		t.Errorf("CORS %+v, want %+v", a.CORS, want)
	}
	edit := b.get("/store/publisher/" + itoa(a.ID) + "/edit").body
	mustContain(t, edit, `value="https://app.example.com http://localhost:3000"`, `value="Authorization X-Trace"`, `value="GET POST"`)
	form.Del("cors_origins")
	form.Del("cors_headers")
	form.Del("cors_methods")
	if p := b.submit("/store/publisher/"+itoa(a.ID), form); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
	if a := apiByContext(t, env, "/weather"); len(a.CORS.Origins)+len(a.CORS.Headers)+len(a.CORS.Methods) != 0 {
		t.Errorf("CORS %+v, want the defaults", a.CORS)
	}
}

// TestPublisherPassMethodOverride: the Publisher's box saves whether the
// gateway passes the API's method overrides on, the edit form shows it,
// and a post without the form token changes nothing.
func TestPublisherPassMethodOverride(t *testing.T) {
	checkPublisherBox(t, "pass_method_override", func(a *portal.API) bool { return a.PassMethodOverride })
}

// TestPublisherBackendJWT: the same for whether the API's backend gets a
// backend JWT.
func TestPublisherBackendJWT(t *testing.T) {
	checkPublisherBox(t, "backend_jwt", func(a *portal.API) bool { return a.BackendJWT })
}

// checkPublisherBox checks one box of the Publisher's API form: off for a
// new API, saved ticked and unticked, shown by the edit form, and not
// changed by a post without the form token.
func checkPublisherBox(t *testing.T, name string, saved func(*portal.API) bool) {
	t.Helper()
	env := newStore(t)
	b := env.publisher("root", "admin")
	form := publisherForm()
	if p := b.submit("/store/publisher", form); p.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	a := apiByContext(t, env, "/weather")
	if saved(a) {
		t.Errorf("a new API has %s set; want it off unless the box is ticked", name)
	}
	edit := b.get("/store/publisher/" + itoa(a.ID) + "/edit").body
	mustContain(t, edit, `<input type="checkbox" name="`+name+`" value="true">`)
	form.Set(name, "true")
	form.Del("csrf_token") // submit set it
	if p := b.post("/store/publisher/"+itoa(a.ID), form); p.status != http.StatusForbidden {
		t.Errorf("save without the form token: %d, want 403", p.status)
	}
	if saved(apiByContext(t, env, "/weather")) {
		t.Error("a post without the form token ticked the box")
	}
	if p := b.submit("/store/publisher/"+itoa(a.ID), form); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
	if !saved(apiByContext(t, env, "/weather")) {
		t.Error("the ticked box was not saved")
	}
	edit = b.get("/store/publisher/" + itoa(a.ID) + "/edit").body
	mustContain(t, edit, `<input type="checkbox" name="`+name+`" value="true" checked>`)
	form.Del(name)
	if p := b.submit("/store/publisher/"+itoa(a.ID), form); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
	if saved(apiByContext(t, env, "/weather")) {
		t.Error("the unticked box was not saved")
	}
}
