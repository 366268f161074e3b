package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// TestTenantScopesAndTiersInTheStore: a tenant's Publisher offers the
// tenant's tiers (its own Platinum; the super tenant's Publisher does not
// know it, and refuses it) and registers the scopes its APIs' resources
// name in the tenant, beside the super tenant's of the same name, which
// stay as they were; a shared API offers its own tenant's tiers to other
// tenants' developers; the consent page of a tenant's application shows
// that tenant's scopes only.
func TestTenantScopesAndTiersInTheStore(t *testing.T) {
	e := newTenantStoreEnv(t)
	ctx := context.Background()
	if err := e.db.PutTier(ctx, portal.Tier{TenantID: e.acme.ID, Name: "Platinum", RPM: 10000}); err != nil {
		t.Fatal(err)
	}
	acme := e.userAgent(t)
	acme.logIn(acme.get(e.store.URL+"/t/acme.com/store/login"), "admin", "acme-admin-password")
	root := e.userAgent(t)
	root.logIn(root.get(e.store.URL+"/store/login"), "root", "root-password")

	platinum := `value="Platinum"`
	form := acme.get(e.store.URL + "/store/publisher/new")
	if !strings.Contains(form.body, platinum) {
		t.Errorf("acme.com's Publisher form does not offer its Platinum tier")
	}
	rootForm := root.get(e.store.URL + "/store/publisher/new")
	if strings.Contains(rootForm.body, platinum) {
		t.Errorf("the super tenant's Publisher form offers acme.com's Platinum tier")
	}
	page := root.submit(rootForm, url.Values{"name": {"Plated"}, "version": {"1.0"}, "context": {"/plated"},
		"tiers": {"Platinum"}, "resources": {"GET /items"}, "production_url": {"https://backend.example"}})
	if page.status != http.StatusUnprocessableEntity || !strings.Contains(page.body, "Unknown tier") {
		t.Errorf("a super-tenant API on acme.com's tier: %d", page.status)
	}

	// update is the super tenant's scope for admins; acme.com's admin
	// names it on a resource: a new scope of acme.com's, for anyone there.
	page = acme.submit(form, url.Values{"name": {"AcmeInventory"}, "version": {"1.0"}, "context": {"/inventory"},
		"tiers": {"Platinum", "Gold"}, "resources": {"GET /items update"}, "production_url": {"https://backend.example"},
		"new_scope_access": {"anyone"}})
	if page.status != http.StatusOK || !strings.Contains(page.body, "New scope update: any user") {
		t.Fatalf("acme.com's API with a scope update: %d\n%s", page.status, page.body)
	}
	made, err := e.db.APIByContext(ctx, "/t/acme.com/inventory", "1.0")
	if err != nil || !slices.Equal(made.Tiers, []string{"Platinum", "Gold"}) {
		t.Fatalf("the API made: %+v, %v", made, err)
	}
	if got, err := e.db.ScopesByName(ctx, "acme.com", []string{"update"}); err != nil || len(got) != 1 || len(got[0].Roles) != 0 {
		t.Errorf("acme.com's update: %+v, %v", got, err)
	}
	if got, err := e.db.ScopesByName(ctx, "", []string{"update"}); err != nil || len(got) != 1 || !slices.Equal(got[0].Roles, []string{"admin"}) {
		t.Errorf("the super tenant's update after acme.com's: %+v, %v", got, err)
	}

	// A shared API offers its tenant's tiers to other tenants' developers.
	e.weather.Tiers = []string{"Platinum"}
	if err := e.db.UpdateAPI(ctx, e.weather, nil); err != nil {
		t.Fatal(err)
	}
	alice := e.userAgent(t)
	alice.logIn(alice.get(e.store.URL+"/store/login"), "alice", "alice-password")
	apiPage := alice.get(fmt.Sprintf("%s/store/apis/%d", e.store.URL, e.weather.ID))
	if !strings.Contains(apiPage.body, `value="Platinum"`) {
		t.Fatalf("the shared API's page does not offer its tenant's Platinum tier to the super tenant's alice: %d", apiPage.status)
	}
	if page := alice.submit(apiPage, url.Values{"app": {fmt.Sprint(e.key.AppID)}, "tier": {"Platinum"}}); page.status != http.StatusOK {
		t.Errorf("alice subscribes on acme.com's Platinum: %d\n%s", page.status, page.body)
	}
	if subs, err := e.db.SubscriptionsOfApplication(ctx, e.key.AppID); err != nil || len(subs) != 1 || subs[0].Tier != "Platinum" {
		t.Errorf("alice's subscriptions: %+v, %v", subs, err)
	}

	// The consent page of acme.com's application: acme.com's scopes only.
	if err := e.db.PutScope(ctx, "acme.com", oauth.Scope{Name: "read", Description: "Read Acme's records"}); err != nil {
		t.Fatal(err)
	}
	admin, err := e.db.UserAccount(ctx, "admin@acme.com")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := fixture.AppWithCallback(t, e.db, admin, "AcmeApp", consentCallback, oauth.GrantAuthorizationCode)
	consent := acme.get(e.api.URL + "/authorize?response_type=code&client_id=" + key.ConsumerKey + "&scope=" + url.QueryEscape("read update orders"))
	if consent.status != http.StatusOK || !strings.Contains(consent.body, "Read Acme&#39;s records") ||
		!strings.Contains(consent.body, "The update operations of AcmeInventory") || strings.Contains(consent.body, "the read scope") {
		t.Errorf("acme.com's consent page: %d\n%s", consent.status, consent.body)
	}
	// The super tenant's alice, logged in, is no user of acme.com's
	// application: access_denied back to it, no code.
	got := callback(t, alice.get(e.api.URL+"/authorize?response_type=code&state=s&client_id="+key.ConsumerKey), false)
	if got.Get("error") != oauth.ErrCodeAccessDenied || got.Has("code") || got.Get("state") != "s" {
		t.Errorf("alice at acme.com's application's /authorize: %v", got)
	}
}
