package gateway_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/getkin/kin-openapi/openapi3"
)

var where = gateway.Where{Gateways: []string{"https://gw.example.com:8243", "http://gw.example.com:8280"},
	TokenURL: "https://gw.example.com:8243/token", AuthorizeURL: "https://gw.example.com:8243/authorize"}

// TestDefinition checks the definition of every kind of API: it validates
// once written out and read back with kin-openapi, its servers are the
// gateway's, and its operations are the API's resources with their scopes.
func TestDefinition(t *testing.T) {
	ctx := context.Background()
	imported, importedScopes, err := gateway.FromOpenAPI(ctx, []byte(pizzaYAML), "")
	if err != nil {
		t.Fatal(err)
	}
	imported31, imported31Scopes, err := gateway.FromOpenAPI(ctx, []byte(pizzaJSON), "")
	if err != nil {
		t.Fatal(err)
	}
	// Changed after publishing: a resource dropped, one added, a scope changed.
	changed := *imported
	changed.Resources = slices.DeleteFunc(slices.Clone(imported.Resources), func(r portal.Resource) bool { return r.Method == "DELETE" })
	changed.Resources = append(changed.Resources, portal.Resource{Method: "PUT", Path: "/order/{orderId}/address", Scope: "update"})
	for i := range changed.Resources {
		if changed.Resources[i].Path == "/menu" {
			changed.Resources[i].Scope = "read"
		}
	}
	changed.Name, changed.Description = "Pizza Shack v2", "Now with addresses."
	publisher := &portal.API{ID: 7, Name: "Weather", Version: "v1", Context: "/weather", Description: "Forecasts.",
		ProductionURL: "http://backend.internal:9000/weather",
		Resources:     []portal.Resource{{Method: "GET", Path: "/forecast/{city}/*"}, {Method: "POST", Path: "/alerts", Scope: "alerts"}}}
	tests := []struct {
		name     string
		api      *portal.API
		scopes   []oauth.Scope
		keyTypes string
	}{
		{"imported", imported, importedScopes, "production and sandbox"},
		{"imported, OpenAPI 3.1 in JSON", imported31, imported31Scopes, "production keys"},
		{"changed after publishing", &changed, importedScopes, "production and sandbox"},
		{"made on the Publisher page", publisher, nil, "production keys"},
		{"the sample", portal.SampleAPI(), portal.SampleScopes, "keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := gateway.Definition(ctx, tt.api, tt.scopes, where)
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range []func() ([]byte, error){doc.MarshalJSON, func() ([]byte, error) { return gateway.DefinitionYAML(doc) }} {
				data, err := out()
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(data), "pizza.example.com") || strings.Contains(string(data), "backend.internal") ||
					strings.Contains(string(data), "127.0.0.1:9999") {
					t.Errorf("the definition names the backend:\n%s", data)
				}
				loader := openapi3.NewLoader()
				read, err := loader.LoadFromData(data)
				if err != nil {
					t.Fatalf("read back: %v\n%s", err, data)
				}
				if err := read.Validate(ctx); err != nil {
					t.Fatalf("invalid: %v\n%s", err, data)
				}
			}
			if doc.Info.Title != tt.api.Name || doc.Info.Version != tt.api.Version || doc.Info.Description != tt.api.Description {
				t.Errorf("info %+v, want the API's name, version and description", doc.Info)
			}
			want := []string{"https://gw.example.com:8243" + tt.api.Context + "/" + tt.api.Version,
				"http://gw.example.com:8280" + tt.api.Context + "/" + tt.api.Version}
			var got []string
			for _, s := range doc.Servers {
				got = append(got, s.URL)
				if !strings.Contains(s.Description, tt.keyTypes) {
					t.Errorf("server %s: description %q does not name %q", s.URL, s.Description, tt.keyTypes)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("servers %v, want %v", got, want)
			}
			scheme := doc.Components.SecuritySchemes[gateway.SecuritySchemeName].Value
			if scheme.Flows.ClientCredentials.TokenURL != where.TokenURL {
				t.Errorf("token URL %q", scheme.Flows.ClientCredentials.TokenURL)
			}
			ops := 0
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					ops++
					i := slices.IndexFunc(tt.api.Resources, func(r portal.Resource) bool { return r.Method == method && r.Path == path })
					if i < 0 {
						t.Errorf("%s %s: no such resource", method, path)
						continue
					}
					scopes := (*op.Security)[0][gateway.SecuritySchemeName]
					if r := tt.api.Resources[i]; (r.Scope == "" && len(scopes) != 0) || (r.Scope != "" && !slices.Equal(scopes, []string{r.Scope})) {
						t.Errorf("%s %s: security scopes %v, want %q", method, path, scopes, r.Scope)
					}
					if r := tt.api.Resources[i]; r.Scope != "" {
						if _, ok := scheme.Flows.ClientCredentials.Scopes[r.Scope]; !ok {
							t.Errorf("scope %s is not in the security scheme", r.Scope)
						}
					}
					if op.Responses.Status(403) == nil {
						t.Errorf("%s %s: no 403 answer", method, path)
					}
				}
			}
			if ops != len(tt.api.Resources) {
				t.Errorf("%d operations, want %d", ops, len(tt.api.Resources))
			}
		})
	}
}

// TestDefinitionKeepsImportedDetail checks that an imported operation
// keeps its own parameters and answers.
func TestDefinitionKeepsImportedDetail(t *testing.T) {
	doc, err := gateway.Definition(context.Background(), portal.SampleAPI(), portal.SampleScopes, where)
	if err != nil {
		t.Fatal(err)
	}
	post := doc.Paths.Value("/order").Post
	if post.RequestBody == nil || post.RequestBody.Value.Content.Get("application/json").Example == nil {
		t.Error("POST /order lost its request body's example")
	}
	if post.Responses.Status(201) == nil {
		t.Error("POST /order lost its 201 answer")
	}
}
