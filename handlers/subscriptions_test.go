package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// shown returns the value a page shows under data-testid id.
func shown(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`data-testid="` + id + `">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page shows no %s", id)
	}
	return m[1]
}

func TestAPIPageSubscribeUnsubscribe(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	anon := env.browser()
	p := anon.get("/store/apis/1")
	if p.status != http.StatusOK {
		t.Fatalf("API page: %d", p.status)
	}
	mustContain(t, p.body, "PizzaShackAPI", "1.0.0", "/pizzashack", "/order/{orderId}", ">read<", ">update<",
		`href="/store/login?return=%2Fstore%2Fapis%2F1"`)
	// The breadcrumb names the page it leads to.
	mustContain(t, p.body, `<nav class="crumbs muted" aria-label="Breadcrumb"><a href="/store">APIs</a> / <span aria-current="page">PizzaShackAPI 1.0.0</span></nav>`)
	for _, path := range []string{"/store/apis/999", "/store/apis/x"} {
		if p := anon.get(path); p.status != http.StatusNotFound {
			t.Errorf("%s: %d", path, p.status)
		}
	}

	b := env.browser()
	b.signUp("alice", "alice-password")
	mustContain(t, b.get("/store/apis/1").body, "No applications yet")
	id := b.addApplication("Shop")
	other := env.browser()
	other.signUp("bob", "bob-password")
	bobApp := other.addApplication("BobApp")

	subscribe := func(app int64, tier string) page {
		return b.submit("/store/apis/1/subscribe", url.Values{"app": {fmt.Sprint(app)}, "tier": {tier}})
	}
	if p := subscribe(id, "Platinum"); p.status != http.StatusUnprocessableEntity {
		t.Errorf("unknown tier: %d", p.status)
	} else {
		mustContain(t, p.body, "Choose one of this API&#39;s tiers")
	}
	if p := subscribe(bobApp, "Gold"); p.status != http.StatusUnprocessableEntity {
		t.Errorf("another user's application: %d", p.status)
	} else {
		mustContain(t, p.body, "Choose one of your applications.")
	}
	if p := subscribe(id, "Gold"); p.status != http.StatusSeeOther || p.location != "/store/apis/1" {
		t.Fatalf("subscribe: %d to %q", p.status, p.location)
	}
	page := b.get("/store/apis/1").body
	mustContain(t, page, "Shop is subscribed to PizzaShackAPI 1.0.0 at the Gold tier.", "Your subscriptions", "Unsubscribe")
	if p := subscribe(id, "Silver"); p.status != http.StatusUnprocessableEntity {
		t.Errorf("second subscription: %d", p.status)
	} else {
		mustContain(t, p.body, "Shop is already subscribed to this API.")
	}
	mustContain(t, b.get(fmt.Sprintf("/store/subscriptions?app=%d", id)).body, "Subscribed APIs", "PizzaShackAPI", "Gold")
	// Shop's own tier (Gold, from addApplication) is named as the
	// application's, the subscription's as the subscription's.
	mustContain(t, b.get(fmt.Sprintf("/store/subscriptions?app=%d", id)).body,
		`whose application tier is <span data-testid="app-tier">Gold</span>; the gateway limits calls by each subscription's own tier`,
		"<th>Subscription tier</th>")

	unsubscribe := fmt.Sprintf("/store/applications/%d/unsubscribe", id)
	if p := other.submit(unsubscribe, url.Values{"api": {"1"}}); p.status != http.StatusNotFound {
		t.Errorf("bob unsubscribing alice's application: %d", p.status)
	}
	gen := fixture.Generation(t, env.db)
	p = b.submit(unsubscribe, url.Values{"api": {"1"}, "from": {"subscriptions"}})
	if p.status != http.StatusSeeOther || p.location != fmt.Sprintf("/store/subscriptions?app=%d", id) {
		t.Fatalf("unsubscribe: %d to %q", p.status, p.location)
	}
	if fixture.Generation(t, env.db) == gen {
		t.Error("unsubscribing did not change the access generation")
	}
	mustContain(t, b.get(fmt.Sprintf("/store/subscriptions?app=%d", id)).body, "not subscribed to any API yet")
	if subs, err := env.db.SubscriptionsOfApplication(ctx, id); err != nil || len(subs) != 0 {
		t.Errorf("subscriptions left: %v, %v", subs, err)
	}
	if p := b.submit(unsubscribe, url.Values{"api": {"1"}}); p.status != http.StatusNotFound {
		t.Errorf("unsubscribing twice: %d", p.status)
	}
}

func TestGenerateRegenerateKeys(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	b := env.browser()
	b.signUp("alice", "alice-password")
	id := b.addApplication("Shop")
	base := fmt.Sprintf("/store/subscriptions/%d", id)

	first := b.get("/store/subscriptions")
	mustContain(t, first.body, "Production", "Sandbox", `value="3600"`, `value="https://app.example.com/callback"`,
		`value="client_credentials" checked`, `value="implicit">`, "Generate")
	mustNotContain(t, first.body, `value="implicit" checked`)

	p := b.submit(base+"/production/generate", url.Values{"validity": {"1200"}, "callback_url": {"https://app.example.com/cb"},
		"grant_types": {"password", "client_credentials", "refresh_token"}})
	if p.status != http.StatusOK {
		t.Fatalf("generate: %d\n%s", p.status, p.body)
	}
	mustContain(t, p.body, "shown once", "in 1200 seconds")
	// The new token's expiry is said once, beside it, not again as the
	// application token's status.
	if n := strings.Count(p.body, "expires"); n != 1 || strings.Contains(p.body, `data-testid="production-token-status"`) {
		t.Errorf("the expiry is said %d times:\n%s", n, p.body)
	}
	key := shown(t, p.body, "production-consumer-key")
	secret := shown(t, p.body, "production-consumer-secret")
	token := shown(t, p.body, "production-access-token")

	info, err := env.oauth.Validate(ctx, token)
	if err != nil || info.ConsumerKey != key || info.Username != "alice@carbon.super" || info.GrantType != oauth.GrantClientCredentials {
		t.Fatalf("the application token: %+v, %v", info, err)
	}
	resp, oerr := env.oauth.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantPassword, ClientID: key, ClientSecret: secret,
		Username: "alice", Password: "alice-password"})
	if oerr != nil || resp.ExpiresIn != 3600 {
		t.Fatalf("password grant with the generated keys: %+v, %v", resp, oerr)
	}
	if _, oerr := env.oauth.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, ClientID: key, ClientSecret: secret}); oerr != nil {
		t.Fatalf("client_credentials with the generated keys: %v", oerr)
	}

	later := b.get(fmt.Sprintf("/store/subscriptions?app=%d", id)).body
	mustContain(t, later, key, "1200 seconds", "https://app.example.com/cb", "Re-generate", "Regenerate secret")
	mustNotContain(t, later, secret, token, "shown once")
	if status := shown(t, later, "production-token-status"); !regexp.MustCompile(`^expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`).MatchString(status) {
		t.Errorf("token status %q", status)
	}
	mustContain(t, later, `action="`+base+`/sandbox/generate"`)

	// Re-generate: a new token, and the old ones (both application tokens) refused at once.
	gen := fixture.Generation(t, env.db)
	p = b.submit(base+"/production/token", nil)
	if p.status != http.StatusOK {
		t.Fatalf("re-generate: %d", p.status)
	}
	newToken := shown(t, p.body, "production-access-token")
	mustNotContain(t, p.body, "production-consumer-secret")
	if newToken == token {
		t.Fatal("Re-generate returned the same token")
	}
	if _, err := env.oauth.Validate(ctx, token); !errors.Is(err, oauth.ErrInvalidToken) {
		t.Errorf("old token after Re-generate: %v", err)
	}
	if _, err := env.oauth.Validate(ctx, newToken); err != nil {
		t.Errorf("new token: %v", err)
	}
	if fixture.Generation(t, env.db) == gen {
		t.Error("Re-generate did not change the access generation")
	}

	// Regenerate secret: the old secret and the key's tokens fail at once;
	// the new secret and the application token shown with it work.
	p = b.submit(base+"/production/secret", nil)
	if p.status != http.StatusOK {
		t.Fatalf("regenerate secret: %d", p.status)
	}
	newSecret := shown(t, p.body, "production-consumer-secret")
	latest := shown(t, p.body, "production-access-token")
	if _, err := env.oauth.Validate(ctx, newToken); err == nil {
		t.Error("a token issued before the secret was regenerated is still valid")
	}
	if _, err := env.oauth.Validate(ctx, latest); err != nil {
		t.Errorf("the application token shown with the new secret: %v", err)
	}
	if _, oerr := env.oauth.AuthenticateClient(ctx, key, secret); oerr == nil || oerr.Code != oauth.ErrCodeInvalidClient {
		t.Errorf("old secret: %v", oerr)
	}
	if _, oerr := env.oauth.AuthenticateClient(ctx, key, newSecret); oerr != nil {
		t.Errorf("new secret: %v", oerr)
	}

	// A key without client_credentials gets no application token, and says why.
	p = b.submit(base+"/sandbox/generate", url.Values{"validity": {"60"}, "grant_types": {"password"}})
	if p.status != http.StatusOK {
		t.Fatalf("sandbox generate: %d", p.status)
	}
	shown(t, p.body, "sandbox-consumer-secret")
	mustContain(t, p.body, "do not allow the client_credentials grant")
	mustNotContain(t, p.body, "sandbox-access-token")

	if p := b.submit(base+"/sandbox/generate", url.Values{"validity": {"60"}, "grant_types": {"password"}}); p.status != http.StatusConflict {
		t.Errorf("generating twice: %d", p.status)
	}
}

func TestGenerateValidation(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	b.signUp("alice", "alice-password")
	id := b.addApplication("Shop")
	path := fmt.Sprintf("/store/subscriptions/%d/production/generate", id)
	tests := []struct {
		name    string
		form    url.Values
		message string
	}{
		{"zero validity", url.Values{"validity": {"0"}, "grant_types": {"password"}}, "Enter the token validity in seconds"},
		{"text validity", url.Values{"validity": {"soon"}, "grant_types": {"password"}}, "Enter the token validity in seconds"},
		{"no grant", url.Values{"validity": {"60"}}, "Allow at least one of the listed grant types."},
		{"unknown grant", url.Values{"validity": {"60"}, "grant_types": {"magic"}}, "Allow at least one of the listed grant types."},
		{"bad callback", url.Values{"validity": {"60"}, "grant_types": {"password"}, "callback_url": {"http://example.com/cb"}},
			"An http callback URL must be on localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.submit(path, tt.form)
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", p.status)
			}
			mustContain(t, p.body, tt.message)
			mustNotContain(t, p.body, "production-consumer-key")
		})
	}
	keys, err := env.db.KeysOfApplication(context.Background(), id)
	if err != nil || len(keys) != 0 {
		t.Errorf("keys made by refused forms: %v, %v", keys, err)
	}
}

func TestKeysOfOthersAre404(t *testing.T) {
	env := newStore(t)
	alice := env.browser()
	alice.signUp("alice", "alice-password")
	id := alice.addApplication("Shop")
	base := fmt.Sprintf("/store/subscriptions/%d", id)
	if p := alice.submit(base+"/production/generate", url.Values{"validity": {"60"}, "grant_types": {"client_credentials"}}); p.status != http.StatusOK {
		t.Fatalf("generate: %d", p.status)
	}
	bob := env.browser()
	bob.signUp("bob", "bob-password")
	mustContain(t, bob.get("/store/subscriptions").body, "No applications yet — add one")
	if p := bob.get(fmt.Sprintf("/store/subscriptions?app=%d", id)); p.status != http.StatusNotFound {
		t.Errorf("bob viewing alice's keys: %d", p.status)
	}
	for _, action := range []string{"/production/token", "/production/secret", "/sandbox/generate"} {
		p := bob.submit(base+action, url.Values{"validity": {"60"}, "grant_types": {"client_credentials"}})
		if p.status != http.StatusNotFound {
			t.Errorf("bob POST %s: %d", action, p.status)
		}
	}
	for _, path := range []string{base + "/staging/generate", base + "/sandbox/token", base + "/sandbox/secret"} {
		if p := alice.submit(path, url.Values{"validity": {"60"}, "grant_types": {"client_credentials"}}); p.status != http.StatusNotFound {
			t.Errorf("POST %s: %d", path, p.status)
		}
	}
	anon := env.browser()
	if p := anon.get("/store/subscriptions"); p.status != http.StatusSeeOther {
		t.Errorf("anonymous: %d", p.status)
	}
}

func TestUpdateKeySettings(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	b := env.browser()
	b.signUp("alice", "alice-password")
	id := b.addApplication("Shop")
	base := fmt.Sprintf("/store/subscriptions/%d/production", id)
	p := b.submit(base+"/generate", url.Values{"validity": {"600"}, "grant_types": {"password", "client_credentials"}})
	if p.status != http.StatusOK {
		t.Fatalf("generate: %d", p.status)
	}
	key, secret := shown(t, p.body, "production-consumer-key"), shown(t, p.body, "production-consumer-secret")

	if p := b.submit(base+"/update", url.Values{"validity": {"0"}, "grant_types": {"password"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("bad update: %d", p.status)
	} else {
		mustContain(t, p.body, "<details class=\"update\" open>", "Enter the token validity in seconds")
	}
	gen := fixture.Generation(t, env.db)
	p = b.submit(base+"/update", url.Values{"validity": {"-1"}, "grant_types": {"client_credentials", "implicit"},
		"callback_url": {"http://localhost:9000/cb"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("update: %d\n%s", p.status, p.body)
	}
	page := b.get(fmt.Sprintf("/store/subscriptions?app=%d", id)).body
	mustContain(t, page, "Production key settings saved.", "tokens never expire", "http://localhost:9000/cb", `value="implicit" checked`)
	if fixture.Generation(t, env.db) == gen {
		t.Error("narrowing a key's grants did not change the access generation")
	}
	_, oerr := env.oauth.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantPassword, ClientID: key, ClientSecret: secret,
		Username: "alice", Password: "alice-password"})
	if oerr == nil || oerr.Code != oauth.ErrCodeUnauthorizedClient {
		t.Errorf("password grant after it was unchecked: %v", oerr)
	}
	resp, oerr := env.oauth.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, ClientID: key, ClientSecret: secret})
	if oerr != nil || resp.ExpiresIn != 0 {
		t.Errorf("client_credentials with validity -1: %+v, %v", resp, oerr)
	}

	bob := env.browser()
	bob.signUp("bob", "bob-password")
	if p := bob.submit(base+"/update", url.Values{"validity": {"60"}, "grant_types": {"password"}}); p.status != http.StatusNotFound {
		t.Errorf("bob updating alice's key: %d", p.status)
	}
	if p := b.submit(fmt.Sprintf("/store/subscriptions/%d/sandbox/update", id), url.Values{"validity": {"60"}, "grant_types": {"password"}}); p.status != http.StatusNotFound {
		t.Errorf("updating keys not generated: %d", p.status)
	}
}

// TestStrictKeyForms: with a strict server, key forms offer neither the
// password nor the implicit grant, and refuse them if posted.
func TestStrictKeyForms(t *testing.T) {
	env := newStore(t)
	env.oauth.Strict()
	b := env.publisher("alice", "subscriber")
	id := b.addApplication("Strict")
	base := fmt.Sprintf("/store/subscriptions/%d", id)
	page := b.get(fmt.Sprintf("/store/subscriptions?app=%d", id))
	mustContain(t, page.body, `value="client_credentials"`, `value="authorization_code"`)
	mustNotContain(t, page.body, `value="password"`, `value="implicit"`)
	p := b.submit(base+"/production/generate", url.Values{"validity": {"3600"}, "grant_types": {"client_credentials", "password"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Errorf("generate with the password grant: %d", p.status)
	}
}

// TestKeyGrantTypesStoredOnce: a form naming a grant type twice (or out of
// order) stores each once, as the checkboxes list them.
func TestKeyGrantTypesStoredOnce(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	b := env.browser()
	b.signUp("alice", "alice-password")
	id := b.addApplication("Shop")
	base := fmt.Sprintf("/store/subscriptions/%d/production", id)
	p := b.submit(base+"/generate", url.Values{"validity": {"600"}, "grant_types": {"refresh_token", "client_credentials", "client_credentials"}})
	if p.status != http.StatusOK {
		t.Fatalf("generate: %d", p.status)
	}
	key := shown(t, p.body, "production-consumer-key")
	check := func(step string, want ...string) {
		t.Helper()
		c, err := env.db.ClientByKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.GrantTypes, want) {
			t.Errorf("%s: grant types %q, want %q", step, c.GrantTypes, want)
		}
	}
	check("generate", "client_credentials", "refresh_token")
	p = b.submit(base+"/update", url.Values{"validity": {"600"}, "grant_types": {"password", "password", "client_credentials"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("update: %d", p.status)
	}
	check("update", "password", "client_credentials")
}

// TestSubscriptionOfWithdrawnTierOrRetiredAPI: a subscription keeps its tier
// when the publisher stops offering it, and stays listed when the API is
// retired; My Subscriptions and the API page say so.
func TestSubscriptionOfWithdrawnTierOrRetiredAPI(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	b := env.browser()
	b.signUp("alice", "alice-password")
	id := b.addApplication("Shop")
	if p := b.submit("/store/apis/1/subscribe", url.Values{"app": {fmt.Sprint(id)}, "tier": {"Gold"}}); p.status != http.StatusSeeOther {
		t.Fatalf("subscribe: %d", p.status)
	}
	mine := fmt.Sprintf("/store/subscriptions?app=%d", id)
	page := b.get(mine).body
	if got := shown(t, page, "subscription-status"); got != "Published" {
		t.Errorf("status %q", got)
	}
	mustNotContain(t, page, "no longer offered")

	a, err := env.db.APIByID(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	a.Tiers = []string{"Unlimited", "Bronze"}
	if err := env.db.UpdateAPI(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{mine, "/store/apis/1"} {
		mustContain(t, b.get(path).body, "Gold <span class=\"muted\">— no longer offered to new subscriptions; this one keeps it")
	}
	// A new subscription cannot choose it.
	other := b.addApplication("Other")
	if p := b.submit("/store/apis/1/subscribe", url.Values{"app": {fmt.Sprint(other)}, "tier": {"Gold"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("subscribing at a withdrawn tier: %d", p.status)
	}

	if err := env.db.SetAPIStatus(ctx, 1, "RETIRED"); err != nil {
		t.Fatal(err)
	}
	page = b.get(mine).body
	mustContain(t, page, "PizzaShackAPI", "<strong>Retired</strong>", "the gateway refuses its calls", "Unsubscribe")
	mustNotContain(t, page, `href="/store/apis/1"`) // its page is gone
}
