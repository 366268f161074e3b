package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/components"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
)

// The parts of an API's page that take a developer from reading about an
// API to calling it: where it is served, how to get a token, a curl
// command for each operation, and the try-it console.

// useView fills the "Call this API" and "Try it" parts of an API's page.
// subs are the user's subscriptions to the API (none for a visitor).
func (h *Handlers) useView(c echo.Context, a *portal.API, subs []portal.Subscription) (store.UseView, error) {
	doc, err := h.definition(c, a)
	if err != nil {
		return store.UseView{}, err
	}
	w := h.where(c)
	v := store.UseView{APIID: a.ID, TokenURL: w.TokenURL, KeyTypes: keyTypesOf(a),
		Console: store.ConsoleView{TokenURL: tenantPath(c, fmt.Sprintf("/store/apis/%d/console/token", a.ID))}}
	for _, base := range w.Gateways {
		scheme := "HTTPS"
		if strings.HasPrefix(base, "http:") {
			scheme = "HTTP"
		}
		v.Gateways = append(v.Gateways, store.GatewayView{Scheme: scheme, URL: gateway.GatewayURL(base, a)})
		if scheme == "HTTPS" && v.Console.GatewayURL == "" {
			v.Console.GatewayURL = gateway.GatewayURL(base, a)
		}
	}
	if flows := doc.Components.SecuritySchemes[gateway.SecuritySchemeName].Value.Flows; flows != nil {
		for name, desc := range flows.ClientCredentials.Scopes {
			v.Scopes = append(v.Scopes, store.ScopeView{Name: name, Description: desc})
		}
		slices.SortFunc(v.Scopes, func(x, y store.ScopeView) int { return strings.Compare(x.Name, y.Name) })
	}
	consumerKey := "CONSUMER_KEY"
	for _, s := range subs {
		keys, err := h.store.KeysOfApplication(c.Request().Context(), s.AppID)
		if err != nil {
			return store.UseView{}, err
		}
		app := store.ConsoleApp{ID: s.AppID, Name: s.AppName}
		for _, kt := range keyTypes {
			if i := slices.IndexFunc(keys, func(k portal.Key) bool { return k.KeyType == kt.t }); i >= 0 {
				app.KeyTypes = append(app.KeyTypes, components.Option{Value: kt.slug, Label: kt.title})
				if v.KeyApp == "" {
					v.KeyApp, v.KeyType, consumerKey = s.AppName, kt.title, keys[i].ConsumerKey
				}
			}
		}
		if len(app.KeyTypes) > 0 {
			v.Console.Apps = append(v.Console.Apps, app)
		}
	}
	scopes := make([]string, len(v.Scopes))
	for i, s := range v.Scopes {
		scopes[i] = s.Name
	}
	v.TokenCommand = tokenCommand(w.TokenURL, consumerKey, scopes)
	gatewayURL := v.Console.GatewayURL
	if gatewayURL == "" && len(v.Gateways) > 0 {
		gatewayURL = v.Gateways[0].URL
	}
	for i, r := range a.Resources {
		op := doc.Paths.Value(r.Path).GetOperation(r.Method)
		params, path := pathParams(op, r.Path)
		body := requestExample(op)
		v.Examples = append(v.Examples, store.ExampleView{ID: fmt.Sprintf("curl-%d", i), Method: r.Method, Path: r.Path,
			Scope: r.Scope, Summary: op.Summary, Command: curlCommand(r.Method, gatewayURL+path, body)})
		v.Console.Operations = append(v.Console.Operations, store.ConsoleOperation{ID: fmt.Sprintf("op-%d", i),
			Method: r.Method, Path: r.Path, Scope: r.Scope, Params: params, Body: body})
	}
	return v, nil
}

// keyTypesOf says which key types an API serves: those it has an endpoint for.
func keyTypesOf(a *portal.API) string {
	switch {
	case a.ProductionURL != "" && a.SandboxURL != "":
		return "production and sandbox"
	case a.SandboxURL != "":
		return "sandbox"
	}
	return "production"
}

// tokenCommand is the curl command that gets an application token, as in
// the WSO2 docs: the consumer secret is never shown, so it stays a
// placeholder.
func tokenCommand(tokenURL, consumerKey string, scopes []string) string {
	cmd := fmt.Sprintf("curl -u \"%s:CONSUMER_SECRET\" \\\n  -d grant_type=client_credentials", consumerKey)
	if len(scopes) > 0 {
		cmd += fmt.Sprintf(" \\\n  --data-urlencode \"scope=%s\"", strings.Join(scopes, " "))
	}
	return cmd + fmt.Sprintf(" \\\n  %q", tokenURL)
}

// curlCommand calls an operation with an access token.
func curlCommand(method, url, body string) string {
	cmd := "curl"
	if method != http.MethodGet {
		cmd += " -X " + method
	}
	cmd += fmt.Sprintf(" %q \\\n  -H \"Authorization: Bearer ACCESS_TOKEN\"", url)
	if body != "" {
		compact := strings.Join(strings.Fields(body), " ")
		cmd += " \\\n  -H \"Content-Type: application/json\" \\\n  -d '" + strings.ReplaceAll(compact, "'", `'\''`) + "'"
	}
	return cmd
}

// pathParams are the names of a path's parameters with an example value
// each (the definition's, else the name in capitals), and the path with
// those values in.
func pathParams(op *openapi3.Operation, path string) ([]store.ParamView, string) {
	var out []store.ParamView
	for _, part := range strings.Split(path, "/") {
		if !strings.HasPrefix(part, "{") || !strings.HasSuffix(part, "}") {
			continue
		}
		name := part[1 : len(part)-1]
		value := strings.ToUpper(name)
		if p := op.Parameters.GetByInAndName(openapi3.ParameterInPath, name); p != nil && p.Example != nil {
			value = fmt.Sprint(p.Example)
		}
		out = append(out, store.ParamView{Name: name, Example: value})
		path = strings.Replace(path, part, value, 1)
	}
	return out, path
}

// requestExample is an example JSON body of an operation that takes one:
// the definition's, else {}; "" for an operation without a body.
func requestExample(op *openapi3.Operation) string {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return ""
	}
	media := op.RequestBody.Value.Content.Get("application/json")
	if media == nil {
		return ""
	}
	example := media.Example
	if example == nil {
		for _, ex := range media.Examples {
			if ex.Value != nil && ex.Value.Value != nil {
				example = ex.Value.Value
				break
			}
		}
	}
	if example == nil && media.Schema != nil && media.Schema.Value != nil {
		example = media.Schema.Value.Example
	}
	if example == nil {
		return "{}"
	}
	out, err := json.MarshalIndent(example, "", "  ")
	if err != nil {
		return "{}"
	}
	return string(out)
}

// consoleTokenForm asks for a console token: the application, the key type
// and the scopes to try.
type consoleTokenForm struct {
	App   string   `form:"app" validate:"required"`
	Type  string   `form:"type" validate:"required"`
	Scope []string `form:"scope"`
}

// consoleError is the console token endpoint's JSON refusal.
func consoleError(c echo.Context, status int, message string) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, map[string]string{"error": message})
}

// ConsoleToken issues the try-it console a short-lived access token for
// one of the user's applications subscribed to the API, with one of its
// keys, POST /store/apis/:id/console/token. The key's owner is the logged-in
// user, so no secret is asked for; the token is marked as the console's
// (oauth.GrantConsole) and audited.
func (h *Handlers) ConsoleToken(c echo.Context) error {
	a, err := h.publishedAPI(c)
	if err != nil {
		return err
	}
	var f consoleTokenForm
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return consoleError(c, http.StatusUnprocessableEntity, "Choose an application and a key type.")
	}
	app, err := h.ownedApplication(c, f.App)
	if err != nil {
		return consoleError(c, http.StatusNotFound, "There is no such application among yours.")
	}
	kt, ok := findKeyType(func(kt keyTypeInfo) bool { return kt.slug == f.Type })
	if !ok {
		return consoleError(c, http.StatusUnprocessableEntity, "Choose the production or the sandbox key.")
	}
	ctx := c.Request().Context()
	subs, err := h.store.SubscriptionsToAPI(ctx, h.CurrentUser(c).ID, a.ID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(subs, func(s portal.Subscription) bool { return s.AppID == app.ID }) {
		return consoleError(c, http.StatusForbidden, app.Name+" is not subscribed to this API: subscribe it first.")
	}
	keys, err := h.store.KeysOfApplication(ctx, app.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k portal.Key) bool { return k.KeyType == kt.t })
	if i < 0 {
		return consoleError(c, http.StatusConflict, app.Name+" has no "+kt.title+" keys yet: Generate them on My Subscriptions.")
	}
	client, err := h.store.ClientByKey(ctx, keys[i].ConsumerKey)
	if err != nil {
		return err
	}
	// Only the scopes of this API's resources: the console tries this API.
	var scopes []string
	for _, s := range f.Scope {
		if slices.ContainsFunc(a.Resources, func(r portal.Resource) bool { return r.Scope == s }) && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	resp, oerr := h.oauth.IssueConsoleToken(ctx, client, scopes)
	if oerr != nil {
		return consoleError(c, oerr.Status, "No token: "+oerr.Description)
	}
	h.audit(c, portal.AuditConsoleToken, h.CurrentUser(c).Username, client.ConsumerKey,
		fmt.Sprintf("try-it console token for %s (%s key) on API %s %s, scopes %s, valid %d s", app.Name, kt.title, a.Name, a.Version, resp.Scope, resp.ExpiresIn))
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, consoleToken{AccessToken: resp.AccessToken, Scope: resp.Scope, ExpiresIn: resp.ExpiresIn,
		KeyType: string(kt.t), App: app.Name})
}

// consoleToken is the console token endpoint's answer.
type consoleToken struct {
	AccessToken string `json:"access_token"`
	Scope       string `json:"scope"`
	ExpiresIn   int64  `json:"expires_in"`
	KeyType     string `json:"key_type"`
	App         string `json:"app"`
}
