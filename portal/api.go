package portal

import (
	_ "embed" // the sample API's definition
	"fmt"
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
)

// API statuses.
const (
	APIPublished = "PUBLISHED"
	APIRetired   = "RETIRED"
)

// Tiers are the throttling tiers, in display order.
var Tiers = []string{"Unlimited", "Gold", "Silver", "Bronze"}

// API is a published API of the catalogue.
type API struct {
	ID            int64
	Name          string
	Version       string
	Context       string // e.g. /pizzashack
	Description   string
	ProductionURL string
	SandboxURL    string
	Tiers         []string
	Status        string
	CreatedAt     time.Time
	Resources     []Resource
	Tags          []string // normalized (NormalizeTag), in the order given
	// CORS is what the gateway lets browser apps of other origins call.
	CORS CORS
	// PassMethodOverride has the gateway pass X-HTTP-Method-Override and
	// its kin on to the API's backend, checking each call as both its own
	// method and the one it names; without it (nor the server-wide
	// setting) a call naming another method than its own is refused.
	PassMethodOverride bool
	// BackendJWT has the gateway send the API's backend a JWT about the
	// caller in X-JWT-Assertion (subscriber, application, key type, tier,
	// end user, roles), signed with the server's signing keys, as WSO2 API
	// Manager's backend JWT does.
	BackendJWT bool
	// Definition is the OpenAPI 3 document (JSON) the API was imported
	// from; empty for an API made on the Publisher page. Only APIByID and
	// APIByContext load it: lists leave it empty.
	Definition []byte
	// TenantID is the tenant that publishes the API (0 or SuperTenantID:
	// the super tenant's). Another tenant's API has a context beginning
	// /t/{domain}/, as WSO2 has it (TenantContext).
	TenantID int64
	// Shared makes the API visible to other tenants' developers, who may
	// then subscribe; otherwise only its tenant sees it.
	Shared bool
}

// PrefixesOf returns the gateway prefixes (context/version) that would
// begin prefix: its beginnings that end before one of its slashes
// (/t/acme.com/orders/1.0 → /t, /t/acme.com, /t/acme.com/orders).
func PrefixesOf(prefix string) []string {
	var out []string
	for i := 1; i < len(prefix); i++ {
		if prefix[i] == '/' {
			out = append(out, prefix[:i])
		}
	}
	return out
}

// TenantContext is the context of an API of tenant domain: /t/acme.com/
// and the context, as WSO2 API Manager has tenants' APIs on the gateway;
// the super tenant's APIs keep theirs.
func TenantContext(domain, context string) string {
	if domain == "" || strings.EqualFold(domain, SuperTenant) {
		return context
	}
	return "/t/" + strings.ToLower(domain) + context
}

// ContextTenant is the domain of the tenant an API belongs to by its
// context, TenantContext's inverse: /t/{domain}/… is domain's, any other
// the super tenant's.
func ContextTenant(context string) string {
	if rest, ok := strings.CutPrefix(context, "/t/"); ok {
		domain, _, _ := strings.Cut(rest, "/")
		return domain
	}
	return SuperTenant
}

// VisibleTo reports whether a developer of tenantID may see and subscribe
// to the API: its own tenant's, or one shared with every tenant.
func (a *API) VisibleTo(tenantID int64) bool {
	return a.Shared || a.OwnedBy(tenantID)
}

// OwnedBy reports whether the API is tenantID's (0, as in rows from
// before tenants, is the super tenant).
func (a *API) OwnedBy(tenantID int64) bool {
	return max(a.TenantID, SuperTenantID) == max(tenantID, SuperTenantID)
}

// CORS is an API's cross-origin settings at the gateway (the Fetch
// standard's CORS protocol). An empty list means its default.
type CORS struct {
	// Origins may call the API from a browser: scheme://host[:port], or *
	// for any. Default: the store's own origin, so its console works.
	Origins []string
	// Headers a browser may send besides the CORS-safelisted ones.
	// Default: DefaultCORSHeaders.
	Headers []string
	// Methods a browser may use. Default: those of the API's resources.
	Methods []string
}

// DefaultCORSHeaders are the request headers allowed by default: what a
// browser app, and the store's console, send to an API (DPoP: the proof of
// a DPoP-bound token, RFC 9449).
var DefaultCORSHeaders = []string{"Authorization", "Content-Type", "Accept", "Accept-Language", "Content-Language", "DPoP"}

// Resource is one operation of an API: a method and URL template, and the
// scope a token needs to call it (empty: any valid token).
type Resource struct {
	ID     int64
	Method string
	Path   string
	Scope  string
}

// OverlapError is an API whose gateway prefix (context/version, e.g.
// /pizzashack/1.0.0) would overlap another API's: one prefix is the other
// followed by more path segments. The gateway routes a call to the shortest
// prefix that fits, so the other API, or part of it, could not be reached.
type OverlapError struct {
	Prefix string // the prefix of the API being saved
	Other  API    // the API already there (without resources)
}

func (e *OverlapError) Error() string {
	status := ""
	if e.Other.Status == APIRetired {
		status = "retired "
	}
	return fmt.Sprintf("the gateway path %s/… overlaps that of the %sAPI %s %s (%s/%s/…): calls to one would reach the other; choose another context",
		e.Prefix, status, e.Other.Name, e.Other.Version, e.Other.Context, e.Other.Version)
}

// SampleEndpoint is the address of the built-in sample backend: each node
// serves it on a loopback port of its own, and its gateway sends calls for
// this host there (gateway.Config.Builtin). A stable name, unlike the port,
// so the sample API (or one copied from it) keeps working after a restart
// and on every node of a cluster. The .internal top-level domain is
// reserved for private use and never resolves on the Internet.
const SampleEndpoint = "http://pizzashack.apistore.internal"

// SampleEndpointHost is SampleEndpoint's host and port, as a dialer sees it.
const SampleEndpointHost = "pizzashack.apistore.internal:80"

// sampleDefinition describes the sample API's operations, with the
// schemas and examples of its backend (package pizzashack).
//
//go:embed pizzashack.openapi.json
var sampleDefinition []byte

// SampleAPI is the pizza-ordering API published on first start, so that a
// new user can subscribe and call something at once.
func SampleAPI() *API {
	return &API{
		Definition:  sampleDefinition,
		Name:        "PizzaShackAPI",
		Version:     "1.0.0",
		Context:     "/pizzashack",
		Description: "Order pizza: read the menu, place an order and follow it.",
		Tags:        []string{"food", "sample"},
		Resources: []Resource{
			{Method: "GET", Path: "/menu"},
			{Method: "POST", Path: "/order", Scope: "update"},
			{Method: "GET", Path: "/order/{orderId}", Scope: "read"},
		},
	}
}

// SampleScopes are the scopes the sample API's resources name.
var SampleScopes = []oauth.Scope{
	{Name: "read", Description: "Read your orders"},
	{Name: "update", Description: "Place and change orders"},
}
