package handlers_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/web"
)

// usageEnv is the store and the gateway on one database and one clock,
// with an API whose /order/{id} needs the scope read, and a backend.
type usageEnv struct {
	*storeEnv
	clock *fixture.Clock
	gw    *gateway.Gateway
	api   *httptest.Server
	shop  *portal.API
	keys  map[int64]fixture.Key // production keys by application
}

func newUsageEnv(t *testing.T) *usageEnv {
	t.Helper()
	clock := fixture.NewClock(time.Date(2026, 11, 22, 12, 0, 30, 0, time.UTC))
	e := &usageEnv{storeEnv: newStore(t, handlers.WithClock(clock.Now)), clock: clock, keys: map[int64]fixture.Key{}}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(backend.Close)
	fixture.Scope(t, e.db, "read")
	e.shop = &portal.API{Name: "ShopAPI", Version: "2.0.0", Context: "/shop", ProductionURL: backend.URL, SandboxURL: backend.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/menu"}, {Method: "GET", Path: "/order/{id}", Scope: "read"}}}
	if err := e.db.CreateAPI(context.Background(), e.shop); err != nil {
		t.Fatal(err)
	}
	o := oauth.NewServer(e.db, oauth.Validity{}, clock.Now)
	e.gw = gateway.New(o, e.db, gateway.Config{Now: clock.Now, Limits: map[string]int{"Bronze": 3}})
	e.api = httptest.NewServer(web.New(web.Config{Gateway: e.gw}, handlers.New(o, e.db)).API())
	t.Cleanup(func() {
		e.api.Close()
		e.gw.Close()
	})
	return e
}

// app makes a user (password username-password) with an application
// subscribed to the shop API at a tier, and returns the application's id
// and a production token without scopes.
func (e *usageEnv) app(username, tier string) (int64, string) {
	e.t.Helper()
	prod, _ := fixture.App(e.t, e.db, fixture.User(e.t, e.db, username, username+"-password"), username+"'s app")
	if err := e.db.Subscribe(context.Background(), prod.AppID, e.shop.ID, tier); err != nil {
		e.t.Fatal(err)
	}
	e.keys[prod.AppID] = prod
	return prod.AppID, e.token(prod.AppID)
}

// token is a new production token of an application made by app.
func (e *usageEnv) token(app int64) string {
	e.t.Helper()
	prod := e.keys[app]
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, e.api.URL+"/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth(prod.ConsumerKey, prod.Secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr oauth.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		e.t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

// calls makes n gateway calls of a path with a token, each answered status.
func (e *usageEnv) calls(n int, path, token string, status int) {
	e.t.Helper()
	for range n {
		req, _ := http.NewRequest(http.MethodGet, e.api.URL+"/shop/2.0.0"+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			e.t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, status)
		}
	}
}

// csvOf downloads a table of a usage page as CSV.
func csvOf(t *testing.T, b *browser, path string) [][]string {
	t.Helper()
	p := b.get(path)
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%s: %d %s\n%s", path, p.status, p.header.Get("Content-Type"), p.body)
	}
	records, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return records
}

// columnSums adds up each column of a CSV table but the first (the time).
func columnSums(t *testing.T, records [][]string) map[string]int {
	t.Helper()
	sums := map[string]int{}
	for _, r := range records[1:] {
		for i, v := range r[1:] {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatalf("not a count: %q in %v", v, r)
			}
			sums[records[0][i+1]] += n
		}
	}
	return sums
}

// total is a row of the totals table as it is rendered.
func total(label, value string) string {
	return `<th scope="row">` + label + `</th><td class="num">` + value + `</td>`
}

func TestAppUsageShowsTheGatewayCalls(t *testing.T) {
	e := newUsageEnv(t)
	bobApp, bob := e.app("bob", "Bronze")
	carolApp, carol := e.app("carol", "Unlimited")
	e.calls(2, "/order/1", bob, http.StatusForbidden) // no scope read: refused before the tier counts
	e.calls(3, "/menu", bob, http.StatusOK)
	e.calls(4, "/menu", bob, http.StatusTooManyRequests) // Bronze: 3 a minute here
	e.clock.Advance(time.Minute)
	e.calls(1, "/menu", bob, http.StatusOK)
	e.calls(5, "/menu", carol, http.StatusOK)
	e.gw.Close() // writes the calls queued

	b := e.browser()
	if p := b.logIn("bob", "bob-password"); p.status != http.StatusSeeOther {
		t.Fatalf("log in: %d", p.status)
	}
	mustContain(t, b.get("/store/applications").body, fmt.Sprintf(`href="/store/applications/%d/usage"`, bobApp))
	page := fmt.Sprintf("/store/applications/%d/usage", bobApp)
	p := b.get(page + "?range=1h&tz=UTC")
	if p.status != http.StatusOK {
		t.Fatalf("usage page: %d\n%s", p.status, p.body)
	}
	mustContain(t, p.body, "Usage of bob&#39;s app", total("Calls", "10"), total("2xx", "4"), total("4xx", "6"),
		total("5xx", "0"), total("No subscription (900908)", "0"), total("Missing scope (900910)", "2"),
		total("Throttled (900800)", "4"), total("Error rate", "60.0%"),
		`<tr data-t="1795348800"><th scope="row">Sun 22 Nov 12:00</th><td class="num">9</td></tr>`,
		`<tr data-t="1795348860"><th scope="row">Sun 22 Nov 12:01</th><td class="num">1</td></tr>`,
		`<td>ShopAPI 2.0.0</td><td>GET</td><td><code>/menu</code></td><td class="num">8</td><td class="num">4</td>`,
		`<td>ShopAPI 2.0.0</td><td>GET</td><td><code>/order/{id}</code></td><td class="num">2</td><td class="num">2</td>`,
		`data-chart="calls-by-api"`, `src="/store/static/uPlot.iife.min.js"`)
	mustNotContain(t, p.body, "carol")

	for _, c := range []struct {
		table string
		want  map[string]int
	}{
		{"calls-by-api", map[string]int{"ShopAPI 2.0.0": 10}},
		{"calls-by-key-type", map[string]int{"PRODUCTION": 10, "SANDBOX": 0}},
		{"answers-by-status", map[string]int{"2xx": 4, "4xx": 6, "5xx": 0}},
		{"refusals-by-fault", map[string]int{"No subscription (900908)": 0, "Missing scope (900910)": 2, "Throttled (900800)": 4}},
	} {
		records := csvOf(t, b, page+".csv?range=1h&tz=UTC&table="+c.table)
		if len(records) != 61 { // a header and 60 minutes
			t.Errorf("%s: %d lines", c.table, len(records))
		}
		if got := columnSums(t, records); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.table, got, c.want)
		}
	}
	res := csvOf(t, b, page+".csv?range=24h&tz=Europe/Paris&table=resources")
	if fmt.Sprint(res) != "[[api method resource calls errors] [ShopAPI 2.0.0 GET /menu 8 4] [ShopAPI 2.0.0 GET /order/{id} 2 2]]" {
		t.Errorf("resources: %v", res)
	}
	// Hours in Paris: 12:00 UTC is 13:00 there.
	mustContain(t, b.get(page+"?range=24h&tz=Europe/Paris").body, `<th scope="row">Sun 22 Nov 13:00</th><td class="num">10</td>`)

	// The publisher sees every application's calls to the API.
	fixture.User(t, e.db, "pat", "pat-password", "publisher")
	pub := e.browser()
	if p := pub.logIn("pat", "pat-password"); p.status != http.StatusSeeOther {
		t.Fatalf("log in: %d", p.status)
	}
	mustContain(t, pub.get("/store/publisher").body, fmt.Sprintf(`href="/store/publisher/%d/usage"`, e.shop.ID))
	apiPage := fmt.Sprintf("/store/publisher/%d/usage", e.shop.ID)
	mustContain(t, pub.get(apiPage+"?range=1h&tz=UTC").body, "Usage of ShopAPI 2.0.0", total("Calls", "15"), total("2xx", "9"),
		total("Missing scope (900910)", "2"), total("Throttled (900800)", "4"), total("Error rate", "40.0%"))
	for _, c := range []struct {
		table string
		want  map[string]int
	}{
		{"calls-by-application", map[string]int{"bob's app (bob)": 10, "carol's app (carol)": 5}},
		{"calls-by-user", map[string]int{"bob": 10, "carol": 5}},
		{"calls-by-tier", map[string]int{"Bronze": 10, "Unlimited": 5}},
		{"answers-by-status", map[string]int{"2xx": 9, "4xx": 6, "5xx": 0}},
		{"refusals-by-fault", map[string]int{"No subscription (900908)": 0, "Missing scope (900910)": 2, "Throttled (900800)": 4}},
	} {
		if got := columnSums(t, csvOf(t, pub, apiPage+".csv?range=1h&tz=UTC&table="+c.table)); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("publisher's %s: %v, want %v", c.table, got, c.want)
		}
	}
	// Two subscriptions, made just now (the store stamps them with the
	// real clock): none an hour ago, both in the last minute.
	now := time.Now().UTC()
	subs := csvOf(t, pub, apiPage+".csv?range=custom&tz=UTC&table=subscriptions&from="+
		now.Add(-time.Hour).Format("2006-01-02T15:04")+"&to="+now.Add(2*time.Minute).Format("2006-01-02T15:04"))
	if subs[1][1] != "0" || subs[len(subs)-1][1] != "2" {
		t.Errorf("subscriptions: first %v, last %v", subs[1], subs[len(subs)-1])
	}
	if p := b.get(apiPage); p.status != http.StatusForbidden {
		t.Errorf("an app developer at the Publisher's usage page: %d", p.status)
	}

	// Administrators see the whole platform.
	if p := e.browser().logIn("bob", "not-bob's-password"); p.status != http.StatusUnauthorized {
		t.Fatalf("a failed log-in: %d", p.status)
	}
	fixture.User(t, e.db, "root", "root-password", "admin")
	admin := e.browser()
	if p := admin.logIn("root", "root-password"); p.status != http.StatusSeeOther {
		t.Fatalf("log in: %d", p.status)
	}
	mustContain(t, admin.get("/store/admin/usage?range=1h&tz=UTC").body, "Platform usage", total("Calls", "15"),
		total("Throttled (900800)", "4"), total("Active tokens now", "2"))
	for _, c := range []struct {
		table string
		want  map[string]int
	}{
		{"calls-by-api", map[string]int{"ShopAPI 2.0.0": 15}},
		{"tokens-issued", map[string]int{"client_credentials": 2}},
		{"failed-logins", map[string]int{"Failed log-ins": 1, "Lockouts": 0}},
		{"answers-by-status", map[string]int{"2xx": 9, "4xx": 6, "5xx": 0}},
	} {
		if got := columnSums(t, csvOf(t, admin, "/store/admin/usage.csv?range=1h&tz=UTC&table="+c.table)); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("administrators' %s: %v, want %v", c.table, got, c.want)
		}
	}
	if top := csvOf(t, admin, "/store/admin/usage.csv?range=1h&tz=UTC&table=top-applications"); fmt.Sprint(top) !=
		"[[application calls errors] [bob's app (bob) 10 6] [carol's app (carol) 5 0]]" {
		t.Errorf("top applications: %v", top)
	}
	if p := pub.get("/store/admin/usage"); p.status != http.StatusForbidden {
		t.Errorf("a publisher at the administrators' usage page: %d", p.status)
	}

	// Another user's application is not found, page or CSV.
	for _, path := range []string{fmt.Sprintf("/store/applications/%d/usage", carolApp),
		fmt.Sprintf("/store/applications/%d/usage.csv?table=calls-by-api", carolApp)} {
		if p := b.get(path); p.status != http.StatusNotFound || strings.Contains(p.body, "carol") {
			t.Errorf("%s: %d", path, p.status)
		}
	}
}

func TestAppUsageRanges(t *testing.T) {
	e := newUsageEnv(t)
	app, token := e.app("bob", "Gold")
	e.calls(1, "/menu", token, http.StatusOK)
	e.clock.Advance(50 * time.Hour)
	e.calls(2, "/menu", e.token(app), http.StatusOK)
	e.gw.Close()
	b := e.browser()
	b.logIn("bob", "bob-password")
	page := fmt.Sprintf("/store/applications/%d/usage", app)
	for _, c := range []struct {
		query, showing, calls string
	}{
		{"", "From Mon 23 Nov 15:00 to Tue 24 Nov 15:00 (UTC), per hour", "2"},
		{"?range=7d&tz=UTC", "From Tue 17 Nov 15:00 to Tue 24 Nov 15:00 (UTC), per hour", "3"},
		{"?range=30d&tz=UTC", "From Mon 26 Oct 2026 00:00 to Wed 25 Nov 2026 00:00 (UTC), per UTC day", "3"},
		// 17:30 in Kolkata is 12:00 UTC; four hours two days ago are read per hour, the minutes being gone.
		{"?range=custom&tz=Asia/Kolkata&from=2026-11-22T17:30&to=2026-11-22T21:30", "From Sun 22 Nov 17:30 to Sun 22 Nov 21:30 (Asia/Kolkata), per hour", "1"},
		{"?range=custom&tz=UTC&from=2026-11-24T13:00&to=2026-11-24T15:00", "From Tue 24 Nov 13:00 to Tue 24 Nov 15:00 (UTC), per minute", "2"},
	} {
		p := b.get(page + c.query)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d\n%s", c.query, p.status, p.body)
		}
		mustContain(t, p.body, c.showing, total("Calls", c.calls))
	}
	for _, query := range []string{"?range=2h", "?tz=Mars/Olympus", "?range=custom&from=2026-11-22T12:00",
		"?range=custom&from=2026-11-22T12:00&to=2026-11-22T11:00", "?range=custom&from=2020-01-01T00:00&to=2026-11-22T11:00",
		"?range=custom&from=yesterday&to=today"} {
		if p := b.get(page + query); p.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", query, p.status)
		}
	}
	if p := b.get(page + ".csv?table=nothing"); p.status != http.StatusBadRequest {
		t.Errorf("an unknown table: %d", p.status)
	}
}
