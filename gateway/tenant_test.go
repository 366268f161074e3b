package gateway_test

import (
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// tenantAPI publishes an API of tenant (with its /t/{domain}/ context).
func (e *env) tenantAPI(tenant *portal.Tenant, context string, shared bool) *portal.API {
	e.t.Helper()
	api := &portal.API{Name: "Acme " + context, Version: "1.0.0", Context: portal.TenantContext(tenant.Domain, context),
		ProductionURL: e.prod.URL + "/acme", SandboxURL: e.sandbox.URL, TenantID: tenant.ID, Shared: shared,
		Resources: []portal.Resource{{Method: "GET", Path: "/menu"}}}
	if err := gateway.Check(api); err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.CreateAPI(e.ctx, api); err != nil {
		e.t.Fatal(err)
	}
	return api
}

// TestTenantGatewayRoutes: a tenant's APIs are on the gateway at
// /t/{domain}/{context}/{version}/…, as WSO2 has them, for its users'
// tokens (the WSO2 docs' curl with alice@acme.com's token); another
// tenant's token cannot call them, even subscribed, unless the API is
// shared with other tenants; a deactivated tenant's tokens are refused on
// the next call, and its APIs are no longer served.
func TestTenantGatewayRoutes(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	acme := &portal.Tenant{Domain: "acme.com"}
	admin := &portal.User{User: oauth.User{Username: "admin", PasswordHash: "$not-a-hash$"}}
	if err := e.db.CreateTenant(e.ctx, acme, admin); err != nil {
		t.Fatal(err)
	}
	private := e.tenantAPI(acme, "/orders", false)
	shared := e.tenantAPI(acme, "/weather", true)
	acmeAlice := e.newApp("alice@acme.com")
	e.subscribe(acmeAlice.appID, private.ID, "Unlimited")
	e.subscribe(acmeAlice.appID, e.pizza.ID, "Unlimited") // the super tenant's private API
	// The super tenant's alice, subscribed to both of acme.com's APIs
	// (as a store that failed to check would let her).
	e.subscribe(e.alice.appID, private.ID, "Unlimited")
	e.subscribe(e.alice.appID, shared.ID, "Unlimited")

	acmeToken := e.userToken(acmeAlice.prodKey, acmeAlice.prodSecret, "alice@acme.com", "")
	if r := e.call("GET", "/t/acme.com/orders/1.0.0/menu", acmeToken, nil); r.status != 200 || r.body["path"] != "/acme/menu" {
		t.Fatalf("alice@acme.com at /t/acme.com/orders/1.0.0/menu: %d %v", r.status, r.body)
	}
	if r := e.call("GET", "/orders/1.0.0/menu", acmeToken, nil); r.status != 404 {
		t.Errorf("a tenant's API without /t/acme.com: %d, want 404", r.status)
	}
	if r := e.call("GET", "/pizzashack/1.0.0/menu", acmeToken, nil); r.status != 403 {
		t.Errorf("acme.com's token at the super tenant's private API: %d, want 403", r.status)
	}
	superToken := e.token(e.alice.prodKey, e.alice.prodSecret, "")
	if r := e.call("GET", "/t/acme.com/orders/1.0.0/menu", superToken, nil); r.status != 403 {
		t.Errorf("the super tenant's token at acme.com's private API: %d, want 403", r.status)
	}
	if r := e.call("GET", "/t/acme.com/weather/1.0.0/menu", superToken, nil); r.status != 200 {
		t.Errorf("the super tenant's token at acme.com's shared API: %d, want 200", r.status)
	}

	if err := e.db.SetTenantActive(e.ctx, "acme.com", false); err != nil {
		t.Fatal(err)
	}
	if r := e.call("GET", "/t/acme.com/orders/1.0.0/menu", acmeToken, nil); r.status != 404 {
		t.Errorf("a deactivated tenant's API: %d, want 404", r.status)
	}
	if r := e.call("GET", "/t/acme.com/weather/1.0.0/menu", superToken, nil); r.status != 404 {
		t.Errorf("a deactivated tenant's shared API: %d, want 404", r.status)
	}
	if r := e.call("GET", "/pizzashack/1.0.0/menu", superToken, nil); r.status != 200 {
		t.Errorf("the super tenant's API after acme.com's deactivation: %d, want 200", r.status)
	}
	if err := e.db.SetTenantActive(e.ctx, "acme.com", true); err != nil {
		t.Fatal(err)
	}
	if r := e.call("GET", "/t/acme.com/orders/1.0.0/menu", acmeToken, nil); r.status != 200 {
		t.Errorf("after activation: %d, want 200", r.status)
	}
}
