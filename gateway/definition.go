package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oasdiff/yaml"
)

// SecuritySchemeName names the OAuth 2 security scheme of every definition.
const SecuritySchemeName = "OAuth2"

// Where is where an API's callers reach apistore: the bases of the
// gateway's listeners (scheme://host[:port], HTTPS first) and the OAuth
// endpoints.
type Where struct {
	Gateways     []string
	TokenURL     string
	AuthorizeURL string
}

// Definition is the OpenAPI 3 document the store offers for an API: the
// one it was imported from, or one made from its resources, either way in
// step with the API as it is now:
//   - info: its name, version and description;
//   - servers: the gateway's URLs, never the backend's;
//   - paths: one operation per resource (an imported document's own
//     operation where it has one, so its parameters, schemas and examples
//     stay; operations it lost since are dropped), each with the OAuth 2
//     security requirement of its scope and the gateway's refusals;
//   - the OAuth 2 security scheme, with the token URL and the scopes.
//
// scopes describe the scopes the resources name. The document is
// validated before it is returned.
func Definition(ctx context.Context, a *portal.API, scopes []oauth.Scope, w Where) (*openapi3.T, error) {
	doc := &openapi3.T{OpenAPI: "3.0.3", Paths: openapi3.NewPaths()}
	if len(a.Definition) > 0 {
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = false
		imported, err := loader.LoadFromData(a.Definition)
		if err != nil {
			return nil, fmt.Errorf("definition of API %d: %w", a.ID, err)
		}
		doc = imported
	}
	if doc.Info == nil {
		doc.Info = &openapi3.Info{}
	}
	doc.Info.Title, doc.Info.Version, doc.Info.Description = a.Name, a.Version, a.Description
	doc.Servers = servers(a, w.Gateways)
	if doc.Components == nil {
		doc.Components = &openapi3.Components{}
	}
	doc.Components.SecuritySchemes = openapi3.SecuritySchemes{SecuritySchemeName: &openapi3.SecuritySchemeRef{Value: securityScheme(a, scopes, w)}}
	if doc.Components.Schemas == nil {
		doc.Components.Schemas = openapi3.Schemas{}
	}
	fault := faultSchema()
	doc.Components.Schemas[faultSchemaName] = fault
	doc.Security = openapi3.SecurityRequirements{{SecuritySchemeName: []string{}}}
	syncPaths(doc, a.Resources, &openapi3.SchemaRef{Ref: "#/components/schemas/" + faultSchemaName, Value: fault.Value})
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("definition of API %d: %w", a.ID, err)
	}
	return doc, nil
}

// DefinitionYAML is a definition in YAML, as the store offers it for
// download beside the JSON.
func DefinitionYAML(doc *openapi3.T) ([]byte, error) {
	j, err := doc.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(j)
}

// GatewayURL is where the gateway serves an API on a listener's base.
func GatewayURL(base string, a *portal.API) string {
	return strings.TrimSuffix(base, "/") + a.Context + "/" + a.Version
}

// servers are the gateway's URLs of the API, one per listener, each
// saying which key types it serves: the same URL serves both, the token's
// key type picks the backend.
func servers(a *portal.API, gateways []string) openapi3.Servers {
	var kinds []string
	if a.ProductionURL != "" {
		kinds = append(kinds, "production")
	}
	if a.SandboxURL != "" {
		kinds = append(kinds, "sandbox")
	}
	keys := strings.Join(kinds, " and ")
	var out openapi3.Servers
	for _, base := range gateways {
		scheme := "HTTPS"
		if u, err := url.Parse(base); err == nil && u.Scheme == "http" {
			scheme = "HTTP"
		}
		out = append(out, &openapi3.Server{URL: GatewayURL(base, a),
			Description: fmt.Sprintf("Gateway over %s, for %s keys: the access token's key type picks the endpoint", scheme, keys)})
	}
	return out
}

// securityScheme is apistore's OAuth 2: client credentials and
// authorization code flows, with the scopes of the API's resources.
func securityScheme(a *portal.API, scopes []oauth.Scope, w Where) *openapi3.SecurityScheme {
	named := map[string]string{}
	for _, r := range a.Resources {
		if r.Scope != "" {
			named[r.Scope] = "Calls the operations that need " + r.Scope
		}
	}
	for _, s := range scopes {
		if _, ok := named[s.Name]; ok && s.Description != "" {
			named[s.Name] = s.Description
		}
	}
	return &openapi3.SecurityScheme{Type: "oauth2",
		Description: "An access token of an application subscribed to the API, from the token URL: Authorization: Bearer ACCESS_TOKEN",
		Flows: &openapi3.OAuthFlows{
			ClientCredentials: &openapi3.OAuthFlow{TokenURL: w.TokenURL, Scopes: named},
			AuthorizationCode: &openapi3.OAuthFlow{AuthorizationURL: w.AuthorizeURL, TokenURL: w.TokenURL, Scopes: named},
		}}
}

const faultSchemaName = "GatewayFault"

// faultSchema is the JSON body of the gateway's refusals (see Refusal).
func faultSchema() *openapi3.SchemaRef {
	fields := openapi3.NewObjectSchema().
		WithProperty("code", openapi3.NewIntegerSchema()).
		WithProperty("message", openapi3.NewStringSchema()).
		WithProperty("description", openapi3.NewStringSchema())
	s := openapi3.NewObjectSchema().WithPropertyRef("fault", &openapi3.SchemaRef{Value: fields})
	s.Example = map[string]any{"fault": map[string]any{"code": CodeInsufficientScope,
		"message": "The access token does not allow you to access the requested resource", "description": "the resource needs the scope update"}}
	return &openapi3.SchemaRef{Value: s}
}

// refusals are the gateway's own answers to any operation.
var refusals = []struct {
	status      int
	description string
}{
	{http.StatusUnauthorized, "The access token is missing, unknown, expired or revoked (fault 900901, 900902)"},
	{http.StatusForbidden, "The application is not subscribed, or the token lacks the operation's scope (fault 900908, 900910)"},
	{http.StatusTooManyRequests, "Over the subscription tier's limit: see Retry-After (fault 900800)"},
}

var templateParam = regexp.MustCompile(`\{([^{}]+)\}`)

// syncPaths makes doc's operations those of resources: missing ones are
// made, those of no resource dropped, and each gets its scope's security
// requirement and the gateway's refusals (whose body is fault).
func syncPaths(doc *openapi3.T, resources []portal.Resource, fault *openapi3.SchemaRef) {
	keep := map[string][]string{} // path → methods
	for _, r := range resources {
		keep[r.Path] = append(keep[r.Path], r.Method)
		item := doc.Paths.Value(r.Path)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(r.Path, item)
		}
		op := item.GetOperation(r.Method)
		if op == nil {
			op = newOperation(r)
			item.SetOperation(r.Method, op)
		}
		scopes := []string{}
		if r.Scope != "" {
			scopes = []string{r.Scope}
		}
		op.Security = &openapi3.SecurityRequirements{{SecuritySchemeName: scopes}}
		if op.Responses == nil {
			op.Responses = openapi3.NewResponses()
		}
		for _, f := range refusals {
			if op.Responses.Status(f.status) == nil {
				resp := openapi3.NewResponse().WithDescription(f.description).
					WithJSONSchemaRef(fault)
				op.Responses.Set(fmt.Sprint(f.status), &openapi3.ResponseRef{Value: resp})
			}
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !slices.Contains(keep[path], method) {
				item.SetOperation(method, nil)
			}
		}
		if len(item.Operations()) == 0 {
			doc.Paths.Delete(path)
		}
	}
}

// newOperation describes a resource the document has no operation for:
// its path parameters, a JSON body for methods that send one, and a
// success answer the backend defines.
func newOperation(r portal.Resource) *openapi3.Operation {
	op := openapi3.NewOperation()
	op.Summary = r.Method + " " + r.Path
	for _, m := range templateParam.FindAllStringSubmatch(r.Path, -1) {
		op.AddParameter(openapi3.NewPathParameter(m[1]).WithSchema(openapi3.NewStringSchema()))
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().
			WithDescription("What the backend takes").WithJSONSchema(openapi3.NewSchema())}
	}
	op.AddResponse(http.StatusOK, openapi3.NewResponse().WithDescription("The backend's answer"))
	return op
}
