package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// tenantStoreEnv is authzEnv with a tenant, acme.com, whose admin has the
// password acme-admin-password, a private and a shared API of acme.com's,
// and a private API of the super tenant's.
type tenantStoreEnv struct {
	*authzEnv
	acme                       *portal.Tenant
	orders, weather, superPriv *portal.API
}

func newTenantStoreEnv(t *testing.T) *tenantStoreEnv {
	t.Helper()
	e := &tenantStoreEnv{authzEnv: newAuthzEnv(t), acme: &portal.Tenant{Domain: "acme.com"}}
	ctx := context.Background()
	hash, err := oauth.HashPassword("acme-admin-password")
	if err != nil {
		t.Fatal(err)
	}
	admin := &portal.User{User: oauth.User{Username: "admin", PasswordHash: hash, Roles: []string{"admin", "subscriber"}}}
	if err := e.db.CreateTenant(ctx, e.acme, admin); err != nil {
		t.Fatal(err)
	}
	api := func(name, context string, tenant int64, shared bool) *portal.API {
		a := &portal.API{Name: name, Version: "1.0", Context: context, TenantID: tenant, Shared: shared,
			ProductionURL: "https://backend.example", Resources: []portal.Resource{{Method: "GET", Path: "/items"}}}
		if err := e.db.CreateAPI(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	e.orders = api("AcmeOrders", "/t/acme.com/orders", e.acme.ID, false)
	e.weather = api("AcmeWeather", "/t/acme.com/weather", e.acme.ID, true)
	e.superPriv = api("SuperPrivate", "/superprivate", portal.SuperTenantID, false)
	return e
}

// pageHas checks that a page shows each of want and none of wantNot.
func pageHas(t *testing.T, page resp, want, wantNot []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(page.body, w) {
			t.Errorf("%s: no %q", page.url, w)
		}
	}
	for _, w := range wantNot {
		if strings.Contains(page.body, w) {
			t.Errorf("%s: shows %q", page.url, w)
		}
	}
}

// TestTenantStore: a tenant's store at /t/acme.com/store shows its APIs
// and those other tenants share, never another tenant's private ones (404
// as for an API that does not exist), on every API page; the super
// tenant's store likewise; an unknown or deactivated tenant has no store;
// a bare name at the tenant's log-in is the tenant's user's, whose session
// ends when the tenant is deactivated.
func TestTenantStore(t *testing.T) {
	e := newTenantStoreEnv(t)
	ua := e.userAgent(t)
	has := func(page resp, want, wantNot []string) { t.Helper(); pageHas(t, page, want, wantNot) }
	page := ua.get(e.store.URL + "/t/acme.com/store")
	if page.status != http.StatusOK {
		t.Fatalf("/t/acme.com/store: %d", page.status)
	}
	has(page, []string{"AcmeOrders", "AcmeWeather", fmt.Sprintf(`href="/t/acme.com/store/apis/%d"`, e.orders.ID)}, []string{"SuperPrivate"})
	has(ua.get(e.store.URL+"/t/acme.com/store?q=super"), nil, []string{"SuperPrivate"})
	has(ua.get(e.store.URL+"/store"), []string{"SuperPrivate", "AcmeWeather"}, []string{"AcmeOrders"})

	apiPages := []string{"", "/openapi.json", "/openapi.yaml", "/reference"}
	for _, c := range []struct {
		store string
		api   *portal.API
		want  int
	}{
		{"/t/acme.com/store", e.orders, 200}, {"/t/acme.com/store", e.weather, 200}, {"/t/acme.com/store", e.superPriv, 404},
		{"/store", e.orders, 404}, {"/store", e.weather, 200}, {"/store", e.superPriv, 200},
	} {
		for _, p := range apiPages {
			path := fmt.Sprintf("%s/apis/%d%s", c.store, c.api.ID, p)
			got := ua.get(e.store.URL + path).status
			if c.want == 404 && got != 404 || c.want == 200 && got == 404 {
				t.Errorf("%s (%s): %d, want %d", path, c.api.Name, got, c.want)
			}
		}
	}
	for _, path := range []string{"/t/nowhere.example/store", "/t/acme.com/other", "/t/acme.com/storefront"} {
		if got := ua.get(e.store.URL + path).status; got != 404 {
			t.Errorf("%s: %d, want 404", path, got)
		}
	}

	// The tenant's administrator logs in with the bare name at the
	// tenant's log-in page.
	page = ua.logIn(ua.get(e.store.URL+"/t/acme.com/store/login"), "admin", "acme-admin-password")
	if page.status != http.StatusOK || !strings.Contains(page.body, "admin@acme.com") {
		t.Fatalf("log-in of admin at acme.com's store: %d %s", page.status, page.url)
	}
	// Logged in, the store is the user's tenant's, whatever the URL.
	has(ua.get(e.store.URL+"/store"), []string{"AcmeOrders", "AcmeWeather"}, []string{"SuperPrivate"})
	if got := ua.get(fmt.Sprintf("%s/store/apis/%d", e.store.URL, e.superPriv.ID)).status; got != 404 {
		t.Errorf("acme.com's admin at the super tenant's private API: %d", got)
	}
	// Nor its documentation, Subscribe or try-it console, with one of the
	// admin's applications and a good form token.
	doc := &portal.Doc{APIID: e.superPriv.ID, Kind: portal.DocHowTo, Title: "Secret", Markdown: "secret"}
	if err := e.db.CreateDoc(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	admin, err := e.db.UserAccount(context.Background(), "admin@acme.com")
	if err != nil {
		t.Fatal(err)
	}
	app, _ := fixture.App(t, e.db, admin, "AcmeApp", oauth.GrantClientCredentials)
	for _, p := range []string{fmt.Sprintf("/apis/%d/docs/%d", e.superPriv.ID, doc.ID), fmt.Sprintf("/apis/%d/docs/%d", e.weather.ID, doc.ID)} {
		if got := ua.get(e.store.URL + "/store" + p).status; got != 404 {
			t.Errorf("acme.com's admin at %s: %d, want 404", p, got)
		}
	}
	apps := ua.get(e.store.URL + "/store/applications")
	for _, p := range []string{"subscribe", "console/token"} {
		page := ua.submitTo(apps, fmt.Sprintf("/store/apis/%d/%s", e.superPriv.ID, p),
			url.Values{"app": {fmt.Sprint(app.AppID)}, "tier": {"Unlimited"}, "type": {"production"}})
		if page.status != 404 {
			t.Errorf("POST %s to the super tenant's private API by acme.com's admin: %d, want 404", p, page.status)
		}
	}
	if subs, err := e.db.SubscriptionsOfApplication(context.Background(), app.AppID); err != nil || len(subs) != 0 {
		t.Errorf("acme.com's application's subscriptions: %+v, %v", subs, err)
	}
	// The super tenant's alice's application is another user's: 404.
	for _, p := range []string{"/edit", "/usage", "/usage.csv", "/delete"} {
		if got := ua.get(fmt.Sprintf("%s/store/applications/%d%s", e.store.URL, e.key.AppID, p)).status; got != 404 {
			t.Errorf("acme.com's admin at the super tenant's alice's application's %s: %d, want 404", p, got)
		}
	}
	for _, p := range []string{"/production/generate", "/production/secret", "/production/token"} {
		if page := ua.submitTo(apps, fmt.Sprintf("/store/subscriptions/%d%s", e.key.AppID, p), nil); page.status != 404 {
			t.Errorf("POST %s to the super tenant's alice's application by acme.com's admin: %d, want 404", p, page.status)
		}
	}

	if err := e.db.SetTenantActive(context.Background(), "acme.com", false); err != nil {
		t.Fatal(err)
	}
	// Its store's forms end in 404 at once; its pages and assets, read
	// from a tenant found active less than a second ago, within a second.
	post, _ := http.NewRequest(http.MethodPost, e.store.URL+"/t/acme.com/store/login", nil)
	if got := ua.do(post).status; got != 404 {
		t.Errorf("a POST to a deactivated tenant's store: %d, want 404", got)
	}
	for _, path := range []string{"/t/acme.com/store", "/t/ACME.com/store/static/app.css", "/t/acme.com/store/apis/1"} {
		got := ua.get(e.store.URL + path)
		for deadline := time.Now().Add(3 * time.Second); got.status != 404 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			got = ua.get(e.store.URL + path)
		}
		if got.status != 404 || strings.Contains(got.body, "AcmeOrders") {
			t.Errorf("%s of a deactivated tenant's store: %d, want 404 within a second", path, got.status)
		}
	}
	if page := ua.get(e.store.URL + "/store/applications"); !strings.HasSuffix(page.url.Path, "/store/login") {
		t.Errorf("the deactivated tenant's admin is still logged in: %s", page.url)
	}
	// Nor are its shared APIs in other tenants' stores.
	has(ua.get(e.store.URL+"/store"), []string{"SuperPrivate"}, []string{"AcmeWeather"})
	if got := ua.get(fmt.Sprintf("%s/store/apis/%d", e.store.URL, e.weather.ID)).status; got != 404 {
		t.Errorf("a deactivated tenant's shared API: %d, want 404", got)
	}
	if err := e.db.SetTenantActive(context.Background(), "acme.com", true); err != nil {
		t.Fatal(err)
	}
	other := e.userAgent(t)
	page = other.logIn(other.get(e.store.URL+"/store/login"), "admin@acme.com", "acme-admin-password")
	if !strings.Contains(page.body, "admin@acme.com") {
		t.Errorf("log-in with the full name at the super tenant's log-in after activation: %d %s", page.status, page.url)
	}
}

// TestTenantPublisher: a tenant's administrator sees and changes only the
// tenant's APIs in the Publisher (another tenant's are 404 on every
// action), and an API made there is the tenant's, under /t/{domain}/; the
// super tenant's publishers cannot take a /t/ context nor see a tenant's
// APIs.
func TestTenantPublisher(t *testing.T) {
	e := newTenantStoreEnv(t)
	ua := e.userAgent(t)
	ua.logIn(ua.get(e.store.URL+"/t/acme.com/store/login"), "admin", "acme-admin-password")

	page := ua.get(e.store.URL + "/store/publisher")
	if page.status != http.StatusOK || !strings.Contains(page.body, "AcmeOrders") || strings.Contains(page.body, "SuperPrivate") {
		t.Fatalf("acme.com's Publisher: %d\n%s", page.status, page.body)
	}
	for _, p := range []string{"/edit", "/usage", "/usage.csv", "/docs", "/docs/new"} {
		if got := ua.get(fmt.Sprintf("%s/store/publisher/%d%s", e.store.URL, e.superPriv.ID, p)).status; got != 404 {
			t.Errorf("acme.com's admin at the super tenant's API's %s: %d, want 404", p, got)
		}
	}
	form := ua.get(e.store.URL + "/store/publisher/new")
	for _, action := range []string{"retire", "publish", "", "docs"} {
		// A POST to another tenant's API, with a good form token.
		page := ua.submitTo(form, fmt.Sprintf("/store/publisher/%d/%s", e.superPriv.ID, action), url.Values{"name": {"Taken"}})
		if page.status != 404 {
			t.Errorf("POST /store/publisher/%d/%s by acme.com's admin: %d, want 404", e.superPriv.ID, action, page.status)
		}
	}
	if a, err := e.db.APIByID(context.Background(), e.superPriv.ID); err != nil || a.Name != "SuperPrivate" || a.Status != portal.APIPublished {
		t.Fatalf("the super tenant's API changed: %+v, %v", a, err)
	}
	page = ua.submit(form, url.Values{"name": {"AcmeInventory"}, "version": {"1.0"}, "context": {"/inventory"},
		"tiers": {"Unlimited"}, "resources": {"GET /items"}, "production_url": {"https://backend.example"}})
	if page.status != http.StatusOK {
		t.Fatalf("create an API: %d\n%s", page.status, page.body)
	}
	made, err := e.db.APIByContext(context.Background(), "/t/acme.com/inventory", "1.0")
	if err != nil || made.TenantID != e.acme.ID || made.Shared {
		t.Fatalf("the API made in acme.com's Publisher: %+v, %v", made, err)
	}

	root := e.userAgent(t)
	root.logIn(root.get(e.store.URL+"/store/login"), "root", "root-password")
	if page := root.get(e.store.URL + "/store/publisher"); strings.Contains(page.body, "AcmeOrders") || !strings.Contains(page.body, "SuperPrivate") {
		t.Errorf("the super tenant's Publisher shows a tenant's APIs, or not its own")
	}
	if got := root.get(fmt.Sprintf("%s/store/publisher/%d/edit", e.store.URL, e.orders.ID)).status; got != 404 {
		t.Errorf("root at acme.com's API: %d, want 404", got)
	}
	page = root.submit(root.get(e.store.URL+"/store/publisher/new"), url.Values{"name": {"Sneaky"}, "version": {"1.0"},
		"context": {"/t/acme.com/sneaky"}, "tiers": {"Unlimited"}, "resources": {"GET /items"}})
	if page.status != http.StatusUnprocessableEntity || !strings.Contains(page.body, "kept for tenants") {
		t.Errorf("a super-tenant API under /t/: %d", page.status)
	}
}

// submitTo posts page's hidden fields (its form token) and extra to path,
// as a forged form would.
func (u *userAgent) submitTo(page resp, path string, extra url.Values) resp {
	u.t.Helper()
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page.body, -1) {
		form.Set(m[1], m[2])
	}
	for k, v := range extra {
		form[k] = v
	}
	to, _ := page.url.Parse(path)
	req, _ := http.NewRequest(http.MethodPost, to.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

// TestTenantSignup: signing up at a tenant's store makes a user of that
// tenant (carol there is carol@acme.com); no one joins a tenant through
// another store's sign-up (mallory@acme.com at the super tenant's store is
// refused), while a super-tenant e-mail username whose domain is no
// tenant signs up as before.
func TestTenantSignup(t *testing.T) {
	e := newTenantStoreEnv(t)
	signUp := func(store, username string) resp {
		ua := e.userAgent(t)
		return ua.submit(ua.get(e.store.URL+store+"/signup"), url.Values{"username": {username}, "password": {"a-long-password"},
			"password_confirm": {"a-long-password"}, "email": {"someone@example.net"}})
	}
	if page := signUp("/t/acme.com/store", "carol"); page.status != http.StatusOK || !strings.Contains(page.body, "carol@acme.com") {
		t.Fatalf("sign-up at acme.com's store: %d %s", page.status, page.url)
	}
	if u, err := e.db.UserAccount(context.Background(), "carol@acme.com"); err != nil || u.TenantID != e.acme.ID {
		t.Errorf("carol@acme.com: %+v, %v", u, err)
	}
	if page := signUp("/store", "mallory@acme.com"); page.status != http.StatusUnprocessableEntity || !strings.Contains(page.body, "sign up at its store") {
		t.Errorf("mallory@acme.com at the super tenant's store: %d", page.status)
	}
	if _, err := e.db.UserAccount(context.Background(), "mallory@acme.com"); err == nil {
		t.Error("mallory@acme.com was made")
	}
	if page := signUp("/store", "john@example.org"); page.status != http.StatusOK {
		t.Errorf("a super-tenant e-mail username: %d", page.status)
	}
	if u, err := e.db.UserAccount(context.Background(), "john@example.org"); err != nil || u.TenantID != portal.SuperTenantID {
		t.Errorf("john@example.org: %+v, %v", u, err)
	}
}

// storeLink is a link or form target of a store page.
var storeLink = regexp.MustCompile(`\s(?:href|action|src|spec-url)="([^"]*)"`)

// TestTenantStoreLinks crawls acme.com's store from /t/acme.com/store, as
// an anonymous visitor and as the tenant's administrator: every link,
// form and asset of every page it reaches (API pages, documentation,
// reference, applications, subscriptions, Publisher, account…) stays
// under /t/acme.com/store, and so does every redirect (the log-in's
// included).
func TestTenantStoreLinks(t *testing.T) {
	e := newTenantStoreEnv(t)
	doc := &portal.Doc{APIID: e.orders.ID, Kind: portal.DocKinds[0], Title: "Getting started", Markdown: "# Hello\n\nSee [the APIs](/store)."}
	if err := e.db.CreateDoc(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	const prefix = "/t/acme.com/store"
	crawl := func(ua *userAgent, who string) int {
		seen := map[string]bool{prefix: true}
		queue := []string{prefix}
		for len(queue) > 0 && len(seen) < 300 {
			path := queue[0]
			queue = queue[1:]
			page := ua.get(e.store.URL + path)
			if page.status >= 500 || page.url.Host != strings.TrimPrefix(e.store.URL, "https://") && page.url.Host != strings.TrimPrefix(e.store.URL, "http://") ||
				!strings.HasPrefix(page.url.Path, prefix) {
				t.Errorf("%s: GET %s: %d at %s", who, path, page.status, page.url)
				continue
			}
			if !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
				continue
			}
			for _, m := range storeLink.FindAllStringSubmatch(page.body, -1) {
				link, err := url.Parse(html.UnescapeString(m[1]))
				switch {
				case err != nil:
					t.Errorf("%s: %s links to %q: %v", who, path, m[1], err)
				case link.Host != "" || link.Path == "":
					continue // another site's page, or this page's fragment
				case !strings.HasPrefix(link.Path, prefix):
					t.Errorf("%s: %s links to %s, outside %s", who, path, link.Path, prefix)
				case !seen[link.Path] && !strings.HasSuffix(link.Path, "/logout"):
					seen[link.Path] = true
					queue = append(queue, link.Path)
				}
			}
		}
		t.Logf("%s: %d pages and assets reached", who, len(seen))
		return len(seen)
	}
	anonymous := e.userAgent(t)
	if n := crawl(anonymous, "anonymous"); n < 10 {
		t.Errorf("anonymous: only %d pages reached", n)
	}
	for _, p := range []string{fmt.Sprintf("/apis/%d/docs/%d", e.orders.ID, doc.ID), fmt.Sprintf("/apis/%d/reference", e.orders.ID)} {
		page := anonymous.get(e.store.URL + prefix + p)
		if page.status != http.StatusOK {
			t.Errorf("anonymous at %s%s: %d", prefix, p, page.status)
		}
	}
	admin := e.userAgent(t)
	page := admin.logIn(admin.get(e.store.URL+prefix+"/login"), "admin", "acme-admin-password")
	if page.status != http.StatusOK || !strings.HasPrefix(page.url.Path, prefix) || !strings.Contains(page.body, "admin@acme.com") {
		t.Fatalf("log-in at acme.com's store: %d at %s", page.status, page.url)
	}
	if n := crawl(admin, "admin@acme.com"); n < 25 {
		t.Errorf("admin@acme.com: only %d pages reached", n)
	}
}
