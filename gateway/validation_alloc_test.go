package gateway

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// TestValidationDoesNotAllocate: once a token and its subscription are
// cached, checking a call (path, route, resource, token, subscription,
// scope, tier) allocates nothing: at the gateway's rates every allocation
// is paid again in garbage collection.
func TestValidationDoesNotAllocate(t *testing.T) {
	api := &portal.API{ID: 7, Name: "PizzaShackAPI", Version: "1.0.0", Context: "/pizzashack", ProductionURL: "http://backend",
		Resources: []portal.Resource{{Method: "GET", Path: "/menu"}, {Method: "GET", Path: "/order/{id}", Scope: "read"}}}
	rt, err := newRoute(api)
	if err != nil {
		t.Fatal(err)
	}
	s := &snapshot{}
	s.routes.add(rt)
	const token = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG" // 43 characters, as oauth.NewSecret's
	s.tokens.store(oauth.HashOf(token), &oauth.TokenInfo{AppID: 1, KeyType: "PRODUCTION", Token: oauth.Token{Scopes: []string{"read"},
		ExpiresAt: time.Now().Add(time.Hour)}})
	s.subs.store(subKey{1, 7}, subscription{id: 3, tier: "Gold", limit: 1 << 30})
	take := func(_ context.Context, _ portal.QuotaKey, _ time.Time, want, _ int) (int, error) { return want, nil }
	g := &Gateway{now: time.Now, throttle: newThrottle(map[string]int{"Gold": 1 << 30}, take)}
	r := httptest.NewRequest("GET", "/pizzashack/1.0.0/order/12", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	ctx := context.Background()

	allocs := testing.AllocsPerRun(1000, func() {
		if pathProblem(r.URL) != "" {
			t.Fatal("path refused")
		}
		if m, problem := methodOverride(r); m != "" || problem != "" {
			t.Fatal("method override")
		}
		rt, rest := s.routes.find(r.URL.Path)
		res, _ := rt.resource(r.Method, rest)
		bearer, _ := bearerToken(r)
		info, refusal := g.token(ctx, s, bearer)
		if refusal == nil {
			refusal = certificateBinding(r, info)
		}
		if res == nil || refusal != nil {
			t.Fatal("not authorized")
		}
		sub, err := g.subscription(ctx, s, info.AppID, rt.api)
		if err != nil || sub.id == 0 || !hasScope(info, rt, res) {
			t.Fatal("not subscribed")
		}
		if ok, _, err := g.throttle.allow(ctx, portal.QuotaKey{AppID: info.AppID, APIID: rt.api.ID, KeyType: string(info.KeyType)}, sub.limit, g.now()); !ok || err != nil {
			t.Fatal("throttled")
		}
	})
	if allocs != 0 {
		t.Errorf("checking a call allocates %.1f times, want 0", allocs)
	}
}
