package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/getkin/kin-openapi/openapi3"
)

// MaxOpenAPIBytes bounds an imported document.
const MaxOpenAPIBytes = 4 << 20

// FromOpenAPI turns an OpenAPI 3 document (YAML or JSON) into an API and
// the scopes its resources name, with their descriptions:
//   - info: name, version and description; the context comes from the
//     x-context (or WSO2's x-wso2-basePath) extension, else from the title;
//   - paths: one resource per operation; its scope is the operation's
//     x-scope extension, else the scope of its security requirement, else
//     its path's x-scope, else the scope of the document's security
//     requirement; a requirement may name one scope;
//   - servers: the first is the production endpoint; one whose description
//     says "sandbox" is the sandbox endpoint;
//   - x-tiers: the tiers offered (default: all);
//   - x-scope-roles: the roles that may have each scope, e.g.
//     {update: [admin]} (default: anyone).
//
// The document itself becomes the API's Definition (see Definition).
//
// Errors name the problem in the document.
//
// apiContext, unless empty, is the context to use instead (the document's
// may be missing, unusable or taken).
func FromOpenAPI(ctx context.Context, data []byte, apiContext string) (*portal.API, []oauth.Scope, error) {
	if len(data) > MaxOpenAPIBytes {
		return nil, nil, fmt.Errorf("the document is larger than %d MiB", MaxOpenAPIBytes>>20)
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, nil, fmt.Errorf("not a readable OpenAPI document: %w", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, nil, fmt.Errorf("not an OpenAPI 3 document (openapi: %q); convert Swagger 2 documents first", doc.OpenAPI)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, nil, fmt.Errorf("invalid OpenAPI document: %w", err)
	}
	if doc.Info == nil {
		return nil, nil, errors.New("the document has no info")
	}
	a := &portal.API{Name: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	switch {
	case apiContext != "":
		a.Context = apiContext
	case stringExtension(doc.Extensions, "x-context") != "":
		a.Context = stringExtension(doc.Extensions, "x-context")
	case stringExtension(doc.Extensions, "x-wso2-basePath") != "":
		a.Context = stringExtension(doc.Extensions, "x-wso2-basePath")
	case slug(a.Name) == "":
		return nil, nil, fmt.Errorf("no context: the title %q has no letters or digits to make one of; set x-context in the document or give --context", a.Name)
	default:
		a.Context = "/" + slug(a.Name)
	}
	if apiContext == "" {
		// WSO2's basePath ends with the version; apistore adds it itself.
		a.Context = strings.TrimSuffix(strings.TrimSuffix(a.Context, "/"), "/"+a.Version)
	}
	if tiers := stringExtension(doc.Extensions, "x-tiers"); tiers != "" {
		a.Tiers = strings.FieldsFunc(tiers, func(r rune) bool { return r == ',' || r == ' ' })
	}
	a.Tags = apiTags(doc)
	if err := endpoints(doc, a); err != nil {
		return nil, nil, err
	}
	described := scopeDescriptions(doc)
	roles, err := scopeRoles(doc.Extensions)
	if err != nil {
		return nil, nil, err
	}
	var scopes []oauth.Scope
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		ops := item.Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, method := range methods {
			op := ops[method]
			scope, err := operationScope(doc, item, op)
			if err != nil {
				return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			a.Resources = append(a.Resources, portal.Resource{Method: method, Path: path, Scope: scope})
			if scope != "" && !slices.ContainsFunc(scopes, func(s oauth.Scope) bool { return s.Name == scope }) {
				if err := oauth.CheckScopeName(scope); err != nil {
					return nil, nil, fmt.Errorf("%s %s: scope %q: %w", method, path, scope, err)
				}
				scopes = append(scopes, oauth.Scope{Name: scope, Description: described[scope], Roles: roles[scope]})
			}
		}
	}
	if err := Check(a); err != nil {
		return nil, nil, err
	}
	if a.Definition, err = doc.MarshalJSON(); err != nil {
		return nil, nil, fmt.Errorf("keep the document: %w", err)
	}
	return a, scopes, nil
}

// apiTags are the document's tags, then its operations', that can be an
// API's (portal.NormalizeTag), up to portal.MaxTags: the others are left
// out rather than refusing the document, as they only help finding it.
func apiTags(doc *openapi3.T) []string {
	var tags []string
	add := func(name string) {
		if t, err := portal.NormalizeTag(name); err == nil && !slices.Contains(tags, t) && len(tags) < portal.MaxTags {
			tags = append(tags, t)
		}
	}
	for _, t := range doc.Tags {
		add(t.Name)
	}
	for _, path := range doc.Paths.InMatchingOrder() {
		for _, op := range doc.Paths.Value(path).Operations() {
			for _, t := range op.Tags {
				add(t)
			}
		}
	}
	return tags
}

// endpoints reads the production and sandbox URLs from the servers.
func endpoints(doc *openapi3.T, a *portal.API) error {
	for _, s := range doc.Servers {
		u := s.URL
		for name, v := range s.Variables {
			u = strings.ReplaceAll(u, "{"+name+"}", v.Default)
		}
		if strings.Contains(u, "{") {
			return fmt.Errorf("server %q: a variable has no default", s.URL)
		}
		switch {
		case strings.Contains(strings.ToLower(s.Description), "sandbox"):
			a.SandboxURL = u
		case a.ProductionURL == "":
			a.ProductionURL = u
		default:
			return fmt.Errorf("servers: %s and %s are both production servers; apistore has one production and one sandbox endpoint (describe the sandbox one as \"sandbox\")", a.ProductionURL, u)
		}
	}
	if a.ProductionURL == "" && a.SandboxURL == "" {
		return errors.New("the document has no servers: the first server is the production endpoint")
	}
	return nil
}

// operationScope is the one scope an operation needs, if any, from the
// most specific statement: the operation's x-scope, its security
// requirement (security: [] means none), its path's x-scope (meant for
// every operation of the path: ignoring it would leave them open), then
// the document's security requirement.
func operationScope(doc *openapi3.T, item *openapi3.PathItem, op *openapi3.Operation) (string, error) {
	if s := stringExtension(op.Extensions, "x-scope"); s != "" {
		return s, nil
	}
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	} else if s := stringExtension(item.Extensions, "x-scope"); s != "" {
		return s, nil
	}
	var found []string
	for _, req := range reqs {
		for _, names := range req {
			for _, n := range names {
				if !slices.Contains(found, n) {
					found = append(found, n)
				}
			}
		}
	}
	if len(found) > 1 {
		return "", fmt.Errorf("the security requirement names the scopes %s; an apistore resource has one scope (set x-scope)", strings.Join(found, ", "))
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return "", nil
}

// scopeDescriptions collects the scopes declared by the OAuth 2 flows of
// the security schemes.
func scopeDescriptions(doc *openapi3.T) map[string]string {
	out := map[string]string{}
	if doc.Components == nil {
		return out
	}
	for _, ref := range doc.Components.SecuritySchemes {
		if ref == nil || ref.Value == nil || ref.Value.Flows == nil {
			continue
		}
		f := ref.Value.Flows
		for _, flow := range []*openapi3.OAuthFlow{f.Implicit, f.Password, f.ClientCredentials, f.AuthorizationCode} {
			if flow == nil {
				continue
			}
			for name, desc := range flow.Scopes {
				if out[name] == "" {
					out[name] = desc
				}
			}
		}
	}
	return out
}

// stringExtension reads a string (or list of strings, joined by commas)
// extension.
func stringExtension(ext map[string]any, name string) string {
	v, ok := ext[name]
	if !ok {
		return ""
	}
	if raw, ok := v.(json.RawMessage); ok {
		var decoded any
		if json.Unmarshal(raw, &decoded) != nil {
			return ""
		}
		v = decoded
	}
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case []any:
		var parts []string
		for _, p := range v {
			if s, ok := p.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// scopeRoles reads the x-scope-roles extension: scope name → roles.
func scopeRoles(ext map[string]any) (map[string][]string, error) {
	v, ok := ext["x-scope-roles"]
	if !ok {
		return nil, nil
	}
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("x-scope-roles: %w", err)
		}
	}
	var out map[string][]string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, errors.New("x-scope-roles: write a map of scope names to lists of roles, e.g. {update: [admin]}")
	}
	return out, nil
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes a context from a title: "Pizza Shack API" → pizza-shack-api.
func slug(title string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(title), "-"), "-")
}
