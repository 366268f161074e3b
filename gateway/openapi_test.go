package gateway_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

const pizzaYAML = `openapi: 3.0.3
info:
  title: Pizza Shack
  version: 2.0.0
  description: Order pizza.
x-context: /pizza
x-tiers: [Gold, Bronze]
x-scope-roles: {update: [admin, publisher]}
servers:
  - url: https://pizza.example.com/{base}
    variables:
      base: {default: api}
  - url: https://sandbox.pizza.example.com/api
    description: Sandbox
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        password:
          tokenUrl: https://localhost:8243/token
          scopes:
            read: Read your orders
            update: Place and change orders
paths:
  /menu:
    get:
      responses: {"200": {description: the menu}}
  /order:
    x-scope: read
    post:
      security: [{oauth: [update]}]
      responses: {"201": {description: placed}}
  /order/{orderId}:
    x-scope: read
    parameters:
      - {name: orderId, in: path, required: true, schema: {type: string}}
    get:
      responses: {"200": {description: the order}}
    delete:
      x-scope: cancel
      responses: {"204": {description: cancelled}}
`

const pizzaJSON = `{"openapi": "3.1.0",
 "info": {"title": "Pizza JSON", "version": "v1"},
 "x-wso2-basePath": "/pizzajson/v1",
 "servers": [{"url": "http://127.0.0.1:9999"}],
 "security": [{"oauth": ["read"]}],
 "components": {"securitySchemes": {"oauth": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/token", "scopes": {"read": "Read"}}}}}},
 "paths": {"/menu": {"get": {"responses": {"200": {"description": "ok"}}}}}}`

func TestFromOpenAPI(t *testing.T) {
	a, scopes, err := gateway.FromOpenAPI(context.Background(), []byte(pizzaYAML), "")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Pizza Shack" || a.Version != "2.0.0" || a.Context != "/pizza" || a.Description != "Order pizza." {
		t.Errorf("API %+v", a)
	}
	if a.ProductionURL != "https://pizza.example.com/api" || a.SandboxURL != "https://sandbox.pizza.example.com/api" {
		t.Errorf("endpoints %q, %q", a.ProductionURL, a.SandboxURL)
	}
	if strings.Join(a.Tiers, ",") != "Gold,Bronze" {
		t.Errorf("tiers %v", a.Tiers)
	}
	want := map[string]string{"GET /menu": "", "POST /order": "update", "GET /order/{orderId}": "read", "DELETE /order/{orderId}": "cancel"}
	if len(a.Resources) != len(want) {
		t.Errorf("resources %+v", a.Resources)
	}
	for _, r := range a.Resources {
		if scope, ok := want[r.Method+" "+r.Path]; !ok || scope != r.Scope {
			t.Errorf("resource %s %s scope %q, want %v", r.Method, r.Path, r.Scope, want)
		}
	}
	descs := map[string]string{}
	for _, s := range scopes {
		descs[s.Name] = s.Description
	}
	if len(descs) != 3 || descs["read"] != "Read your orders" || descs["update"] != "Place and change orders" {
		t.Errorf("scopes %+v", scopes)
	}
	for _, s := range scopes {
		if want := map[string]string{"update": "admin publisher"}[s.Name]; strings.Join(s.Roles, " ") != want {
			t.Errorf("scope %s roles %v, want %q", s.Name, s.Roles, want)
		}
	}

	a, scopes, err = gateway.FromOpenAPI(context.Background(), []byte(pizzaJSON), "")
	if err != nil {
		t.Fatal(err)
	}
	if a.Context != "/pizzajson" || a.ProductionURL != "http://127.0.0.1:9999" || a.SandboxURL != "" ||
		len(a.Resources) != 1 || a.Resources[0].Scope != "read" || len(scopes) != 1 {
		t.Errorf("JSON document: %+v %+v", a, scopes)
	}
}

func TestFromOpenAPIErrors(t *testing.T) {
	replace := func(old, new string) string { return strings.Replace(pizzaYAML, old, new, 1) }
	tests := []struct{ name, doc, want string }{
		{"not YAML", "openapi: [3", "not a readable OpenAPI document"},
		{"Swagger 2", `{"swagger": "2.0", "info": {"title": "x", "version": "1"}, "paths": {}}`, "not an OpenAPI 3 document"},
		{"no info title", replace("title: Pizza Shack", "title: ''"), "title must be a non-empty string"},
		{"no servers", replace("servers:\n  - url: https://pizza.example.com/{base}\n    variables:\n      base: {default: api}\n  - url: https://sandbox.pizza.example.com/api\n    description: Sandbox\n", ""), "no servers"},
		{"two scopes", replace("[{oauth: [update]}]", "[{oauth: [update, read]}]"), "POST /order: the security requirement names the scopes update, read"},
		{"reserved context", replace("x-context: /pizza", "x-context: /token"), "reserved"},
		{"bad tier name", replace("[Gold, Bronze]", "[Gold, Bron!ze]"), `tier "Bron!ze": a tier's name is 1 to 32 letters`},
		{"bad server URL", replace("https://sandbox.pizza.example.com/api", "ftp://sandbox"), "sandbox endpoint"},
		{"two production servers", replace("    description: Sandbox\n", "    description: Sandbox\n  - url: https://eu.pizza.example.com/api\n"),
			"servers: https://pizza.example.com/api and https://eu.pizza.example.com/api are both production servers"},
		{"bad version", replace("version: 2.0.0", "version: 2 beta"), "version"},
		{"no paths", replace("paths:", "x-paths:"), "invalid OpenAPI document"},
		{"repeated parameter", replace("/order/{orderId}:", "/order/{orderId}/{orderId}:"), "the parameter {orderId} appears twice"},
		{"title without a context", strings.Replace(replace("title: Pizza Shack", "title: 天气预报"), "x-context: /pizza\n", "", 1), `no context: the title "天气预报" has no letters or digits to make one of; set x-context`},
		{"bad scope roles", replace("{update: [admin, publisher]}", "[admin]"), "x-scope-roles: write a map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := gateway.FromOpenAPI(context.Background(), []byte(tt.doc), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestFromOpenAPIContext: a context given with the document replaces its
// own, which may be missing, unusable or reserved.
func TestFromOpenAPIContext(t *testing.T) {
	for _, doc := range []string{
		strings.Replace(pizzaYAML, "x-context: /pizza", "x-context: /token", 1),
		strings.Replace(strings.Replace(pizzaYAML, "x-context: /pizza\n", "", 1), "title: Pizza Shack", "title: 天气预报", 1),
	} {
		a, _, err := gateway.FromOpenAPI(context.Background(), []byte(doc), "/weather")
		if err != nil || a.Context != "/weather" {
			t.Errorf("with --context: %v %v", a, err)
		}
	}
	if _, _, err := gateway.FromOpenAPI(context.Background(), []byte(pizzaYAML), "/store"); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("a reserved --context: %v", err)
	}
}

// TestImportIsAllOrNothing: an import that fails registers no scope.
func TestImportIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	d := fixture.DB(t)
	a, scopes, err := gateway.FromOpenAPI(ctx, []byte(pizzaYAML), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ImportAPI(ctx, a, scopes); err != nil {
		t.Fatal(err)
	}
	got, err := d.ScopesByName(ctx, "", []string{"cancel", "update"})
	if err != nil || len(got) != 2 {
		t.Fatalf("scopes after import: %v %v", got, err)
	}
	for _, s := range got {
		if s.Name == "update" && (s.Description != "Place and change orders" || strings.Join(s.Roles, " ") != "admin publisher") {
			t.Errorf("scope update registered as %+v", s)
		}
	}

	again, _, err := gateway.FromOpenAPI(ctx, []byte(pizzaYAML), "")
	if err != nil {
		t.Fatal(err)
	}
	again.Resources[0].Scope = "fresh"
	err = d.ImportAPI(ctx, again, append(scopes, oauth.Scope{Name: "fresh", Description: "new"}))
	if !errors.Is(err, portal.ErrConflict) {
		t.Fatalf("second import: %v, want ErrConflict", err)
	}
	if got, _ := d.ScopesByName(ctx, "", []string{"fresh"}); len(got) != 0 {
		t.Errorf("a failed import registered scope fresh")
	}
}

// TestFromOpenAPITags: the document's tags, then its operations', become
// the API's, normalized; those that cannot be tags are left out.
func TestFromOpenAPITags(t *testing.T) {
	doc := `openapi: 3.0.3
info: {title: Tagged, version: v1}
servers: [{url: "https://pay.example.com"}]
tags:
  - name: Payments
  - name: "no/slashes allowed"
  - name: payments
paths:
  /charges:
    get:
      tags: [Cards, Payments, "Cartes bancaires"]
      responses: {"200": {description: ok}}
`
	a, _, err := gateway.FromOpenAPI(context.Background(), []byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"payments", "cards", "cartes bancaires"}; strings.Join(a.Tags, ",") != strings.Join(want, ",") {
		t.Errorf("tags %q, want %q", a.Tags, want)
	}
}
