package rowmap

import (
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// APIColumns are the columns of an API that ScanAPI scans.
const APIColumns = `id, name, version, context, description, production_url, sandbox_url, tiers, status, created_at,
	cors_origins, cors_headers, cors_methods, pass_method_override, backend_jwt, tenant_id, shared`

// OneAPIColumns are APIColumns and the definition, which only single APIs load.
const OneAPIColumns = APIColumns + `, definition`

// ScanAPI scans a row of APIColumns, or OneAPIColumns when withDefinition.
func ScanAPI(row Row, withDefinition bool) (*portal.API, error) {
	var a portal.API
	var tiers, origins, headers, methods, definition string
	var created int64
	dest := []any{&a.ID, &a.Name, &a.Version, &a.Context, &a.Description, &a.ProductionURL, &a.SandboxURL,
		&tiers, &a.Status, &created, &origins, &headers, &methods, &a.PassMethodOverride, &a.BackendJWT,
		&a.TenantID, &a.Shared}
	if withDefinition {
		dest = append(dest, &definition)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	a.CORS = portal.CORS{Origins: strings.Fields(origins), Headers: strings.Fields(headers), Methods: strings.Fields(methods)}
	if definition != "" {
		a.Definition = []byte(definition)
	}
	a.Tiers = strings.Fields(tiers)
	a.CreatedAt = time.UnixMilli(created)
	return &a, nil
}

// Key scans a row of a consumer key's id, application, key type, consumer
// key, grant types, callback URL, application token validity (seconds),
// creation time, whether it has an application token and when the newest
// one expires (NULL: never, or none).
func Key(row Row) (portal.Key, error) {
	var k portal.Key
	var keyType, grants string
	var validity, created int64
	var expires *int64
	if err := row.Scan(&k.ID, &k.AppID, &keyType, &k.ConsumerKey, &grants, &k.CallbackURL, &validity, &created,
		&k.HasAppToken, &expires); err != nil {
		return k, err
	}
	k.KeyType = oauth.KeyType(keyType)
	k.GrantTypes = strings.Fields(grants)
	k.AppTokenValidity = fromSeconds(validity)
	k.CreatedAt = time.UnixMilli(created)
	k.AppTokenExpiresAt = FromMillis(expires)
	return k, nil
}

// ListedAPI scans a row of APIColumns into a value, for All.
func ListedAPI(row Row) (portal.API, error) {
	a, err := ScanAPI(row, false)
	if err != nil {
		return portal.API{}, err
	}
	return *a, nil
}

// FillAPI gives a new API its defaults: published, with the default tiers,
// of the super tenant.
func FillAPI(a *portal.API) {
	if a.Status == "" {
		a.Status = portal.APIPublished
	}
	if len(a.Tiers) == 0 {
		a.Tiers = portal.Tiers
	}
	a.TenantID = portal.TenantIDOf(a.TenantID)
}

// NewAPIArgs are the values of an API's name, version, context,
// description, production and sandbox URLs, tiers, status, creation time
// (now), definition, CORS origins, headers and methods, pass method
// override, backend JWT, tenant id and shared, for an INSERT.
func NewAPIArgs(a *portal.API) []any {
	return []any{a.Name, a.Version, a.Context, a.Description, a.ProductionURL, a.SandboxURL, strings.Join(a.Tiers, " "), a.Status,
		time.Now().UnixMilli(), string(a.Definition), strings.Join(a.CORS.Origins, " "), strings.Join(a.CORS.Headers, " "),
		strings.Join(a.CORS.Methods, " "), a.PassMethodOverride, a.BackendJWT, a.TenantID, a.Shared}
}

// APIArgs are the values of an API's name, version, context, description,
// production and sandbox URLs, tiers, status, definition, CORS origins,
// headers and methods, pass method override, backend JWT, shared and id,
// for an UPDATE.
func APIArgs(a *portal.API) []any {
	return []any{a.Name, a.Version, a.Context, a.Description, a.ProductionURL, a.SandboxURL, strings.Join(a.Tiers, " "), a.Status,
		string(a.Definition), strings.Join(a.CORS.Origins, " "), strings.Join(a.CORS.Headers, " "), strings.Join(a.CORS.Methods, " "),
		a.PassMethodOverride, a.BackendJWT, a.Shared, a.ID}
}
