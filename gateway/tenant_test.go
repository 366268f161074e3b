package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/internal/fixture"
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

// TestTenantSharedAPIScopes: a scope is its tenant's, so a shared API's
// scoped resources are for its own tenant's tokens: another tenant's token
// holds that tenant's scope of the same name, which the API's publisher
// never granted, and is refused with insufficient_scope (its unscoped
// resources it may call).
func TestTenantSharedAPIScopes(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	acme := &portal.Tenant{Domain: "acme.com"}
	admin := &portal.User{User: oauth.User{Username: "admin", PasswordHash: "$not-a-hash$"}}
	if err := e.db.CreateTenant(e.ctx, acme, admin); err != nil {
		t.Fatal(err)
	}
	fixture.TenantScope(t, e.db, "acme.com", "read")
	shared := &portal.API{Name: "Weather", Version: "1.0.0", Context: portal.TenantContext(acme.Domain, "/weather"),
		ProductionURL: e.prod.URL + "/acme", SandboxURL: e.sandbox.URL, TenantID: acme.ID, Shared: true,
		Resources: []portal.Resource{{Method: "GET", Path: "/menu"}, {Method: "GET", Path: "/forecast", Scope: "read"}}}
	e.publish(shared)
	acmeBob := e.newApp("bob@acme.com")
	e.subscribe(acmeBob.appID, shared.ID, "Unlimited") // publish subscribed alice

	acmeToken := e.userToken(acmeBob.prodKey, acmeBob.prodSecret, "bob@acme.com", "read")
	if r := e.call("GET", "/t/acme.com/weather/1.0.0/forecast", acmeToken, nil); r.status != 200 {
		t.Errorf("acme.com's token with acme.com's read: %d %v, want 200", r.status, r.body)
	}
	superToken := e.token(e.alice.prodKey, e.alice.prodSecret, "read") // the super tenant's read
	if r := e.call("GET", "/t/acme.com/weather/1.0.0/menu", superToken, nil); r.status != 200 {
		t.Errorf("the super tenant's token at the shared API's unscoped resource: %d, want 200", r.status)
	}
	r := e.call("GET", "/t/acme.com/weather/1.0.0/forecast", superToken, nil)
	if desc, _ := r.fault["description"].(string); r.status != 403 || !strings.Contains(desc, "the tenant acme.com") {
		t.Errorf("the super tenant's read at acme.com's scoped resource: %d %v, want 403 naming the tenant", r.status, r.body)
	}
}

// TestTenantTiers: a subscription is throttled by its tier in the API's
// tenant: acme.com's own Gold limit and its own Platinum tier apply to
// acme.com's APIs only; the super tenant's Gold keeps the gateway's
// setting; a change of a tenant's tier applies at the next call.
func TestTenantTiers(t *testing.T) {
	e := newEnv(t, gateway.Config{Limits: map[string]int{"Gold": 4}})
	acme, _ := fixture.Tenant(t, e.db, "acme.com")
	for _, tier := range []portal.Tier{{TenantID: acme.ID, Name: "Gold", RPM: 2}, {TenantID: acme.ID, Name: "Platinum", RPM: 3}} {
		if err := e.db.PutTier(e.ctx, tier); err != nil {
			t.Fatal(err)
		}
	}
	orders := e.tenantAPI(acme, "/orders", false)
	gold, platinum := e.newApp("bob@acme.com"), e.newApp("carol@acme.com")
	e.subscribe(gold.appID, orders.ID, "Gold")
	e.subscribe(platinum.appID, orders.ID, "Platinum")
	superGold := e.newApp("dave")
	e.subscribe(superGold.appID, e.pizza.ID, "Gold")
	calls := func(path, token string, n int) (admitted int) {
		t.Helper()
		for range n {
			switch r := e.call("GET", path, token, nil); r.status {
			case 200:
				admitted++
			case 429:
			default:
				t.Fatalf("%s: %d %v", path, r.status, r.body)
			}
		}
		return admitted
	}
	bob := e.userToken(gold.prodKey, gold.prodSecret, "bob@acme.com", "")
	carol := e.userToken(platinum.prodKey, platinum.prodSecret, "carol@acme.com", "")
	dave := e.token(superGold.prodKey, superGold.prodSecret, "")
	for _, tt := range []struct {
		who, path, token string
		want             int
	}{
		{"acme.com's Gold", "/t/acme.com/orders/1.0.0/menu", bob, 2},
		{"acme.com's Platinum", "/t/acme.com/orders/1.0.0/menu", carol, 3},
		{"the super tenant's Gold", "/pizzashack/1.0.0/menu", dave, 4},
	} {
		if got := calls(tt.path, tt.token, 6); got != tt.want {
			t.Errorf("%s admitted %d of 6 calls in a minute, want %d", tt.who, got, tt.want)
		}
	}
	e.clock.Advance(time.Minute)
	if err := e.db.PutTier(e.ctx, portal.Tier{TenantID: acme.ID, Name: "Gold", RPM: 5}); err != nil {
		t.Fatal(err)
	}
	if got := calls("/t/acme.com/orders/1.0.0/menu", bob, 6); got != 5 {
		t.Errorf("acme.com's Gold raised to 5 admitted %d of 6", got)
	}
}
