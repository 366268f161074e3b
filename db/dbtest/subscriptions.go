package dbtest

import (
	"errors"
	"slices"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/portal"
)

func testSubscriptions(t *testing.T, s *suite) {
	t.Run("an application subscribes to an API once", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		api := createAPI(t, d, "Pizza", "/pizza", "v1")
		for _, tt := range []struct {
			tier     string
			conflict bool
		}{{"Gold", false}, {"Gold", true}, {"Bronze", true}} {
			err := d.Subscribe(ctx, key.AppID, api.ID, tt.tier)
			if got := errors.Is(err, portal.ErrConflict); got != tt.conflict || (!tt.conflict && err != nil) {
				t.Errorf("Subscribe at %s: %v, want conflict %v", tt.tier, err, tt.conflict)
			}
		}
		id, tier, err := d.SubscriptionTier(ctx, key.AppID, api.ID)
		if err != nil || id == 0 || tier != "Gold" {
			t.Errorf("SubscriptionTier: %d, %q, %v", id, tier, err)
		}
		if err := d.Unsubscribe(ctx, key.AppID, api.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.SubscriptionTier(ctx, key.AppID, api.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("SubscriptionTier after Unsubscribe: %v, want ErrNotFound", err)
		}
		if err := d.Unsubscribe(ctx, key.AppID, api.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("Unsubscribe again: %v, want ErrNotFound", err)
		}
		if err := d.Subscribe(ctx, key.AppID, api.ID, "Silver"); err != nil {
			t.Errorf("subscribing again: %v", err)
		}
		if _, tier, err := d.SubscriptionTier(ctx, key.AppID, api.ID); err != nil || tier != "Silver" {
			t.Errorf("SubscriptionTier after subscribing again: %q, %v", tier, err)
		}
	})

	t.Run("a subscription needs its application and API", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		key, _ := fixture.App(t, d, user(t, d, "alice"), "App")
		api := createAPI(t, d, "Pizza", "/pizza", "v1")
		if err := d.Subscribe(ctx, key.AppID, 999_999, "Gold"); err == nil {
			t.Error("subscribed to a missing API")
		}
		if err := d.Subscribe(ctx, 999_999, api.ID, "Gold"); err == nil {
			t.Error("subscribed a missing application")
		}
	})

	t.Run("an application's subscriptions are listed by API with its status and tiers", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		other, _ := fixture.App(t, d, alice, "Other")
		pizza2 := createAPI(t, d, "Pizza", "/pizza2", "v2")
		pizza1 := createAPI(t, d, "Pizza", "/pizza", "v1")
		beta := createAPI(t, d, "Beta", "/beta", "v1")
		for _, sub := range []struct {
			appID int64
			api   *portal.API
			tier  string
		}{{key.AppID, pizza2, "Gold"}, {key.AppID, pizza1, "Silver"}, {key.AppID, beta, "Bronze"}, {other.AppID, beta, "Gold"}} {
			if err := d.Subscribe(ctx, sub.appID, sub.api.ID, sub.tier); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.SetAPIStatus(ctx, beta.ID, portal.APIRetired); err != nil {
			t.Fatal(err)
		}
		pizza1.Tiers = []string{"Gold"} // Silver is no longer offered
		if err := d.UpdateAPI(ctx, pizza1, nil); err != nil {
			t.Fatal(err)
		}
		list, err := d.SubscriptionsOfApplication(ctx, key.AppID)
		if err != nil {
			t.Fatal(err)
		}
		want := []portal.Subscription{
			{AppID: key.AppID, AppName: "App", APIID: beta.ID, APIName: "Beta", APIVersion: "v1", APIContext: "/beta",
				APIStatus: portal.APIRetired, APITiers: portal.Tiers, Tier: "Bronze"},
			{AppID: key.AppID, AppName: "App", APIID: pizza1.ID, APIName: "Pizza", APIVersion: "v1", APIContext: "/pizza",
				APIStatus: portal.APIPublished, APITiers: []string{"Gold"}, Tier: "Silver"},
			{AppID: key.AppID, AppName: "App", APIID: pizza2.ID, APIName: "Pizza", APIVersion: "v2", APIContext: "/pizza2",
				APIStatus: portal.APIPublished, APITiers: portal.Tiers, Tier: "Gold"},
		}
		if !sameSubscriptions(list, want) {
			t.Errorf("subscriptions:\n got %+v\nwant %+v", list, want)
		}
		if list, err := d.SubscriptionsOfApplication(ctx, 999_999); err != nil || len(list) != 0 {
			t.Errorf("subscriptions of a missing application: %+v, %v", list, err)
		}
	})

	t.Run("an API's subscriptions are listed for one owner, by application in any case", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		api := createAPI(t, d, "Pizza", "/pizza", "v1")
		otherAPI := createAPI(t, d, "Pasta", "/pasta", "v1")
		var apps []int64
		for _, name := range []string{"gamma", "alpha", "Beta"} {
			k, _ := fixture.App(t, d, alice, name)
			apps = append(apps, k.AppID)
			if err := d.Subscribe(ctx, k.AppID, api.ID, "Gold"); err != nil {
				t.Fatal(err)
			}
		}
		bobs, _ := fixture.App(t, d, bob, "Aardvark")
		for _, sub := range []struct{ appID, apiID int64 }{{bobs.AppID, api.ID}, {apps[0], otherAPI.ID}} {
			if err := d.Subscribe(ctx, sub.appID, sub.apiID, "Gold"); err != nil {
				t.Fatal(err)
			}
		}
		list, err := d.SubscriptionsToAPI(ctx, alice.ID, api.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(list, func(s portal.Subscription) string { return s.AppName }); !slices.Equal(got, []string{"alpha", "Beta", "gamma"}) {
			t.Errorf("alice's subscriptions to Pizza: %q", got)
		}
		for _, sub := range list {
			if sub.APIID != api.ID || sub.APIName != "Pizza" || sub.Tier != "Gold" || sub.ID == 0 || sub.CreatedAt.IsZero() {
				t.Errorf("subscription %+v", sub)
			}
		}
		if list, err := d.SubscriptionsToAPI(ctx, user(t, d, "carol").ID, api.ID); err != nil || len(list) != 0 {
			t.Errorf("carol's subscriptions: %+v, %v", list, err)
		}
		all, err := d.SubscriptionsOfAPI(ctx, api.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := names(all, func(s portal.Subscription) string { return s.AppName + " of " + s.Owner + " at " + s.Tier })
		if !slices.Equal(got, []string{"Aardvark of bob at Gold", "alpha of alice at Gold", "Beta of alice at Gold", "gamma of alice at Gold"}) {
			t.Errorf("every subscription to Pizza: %q", got)
		}
	})
}

// sameSubscriptions compares listed subscriptions, leaving out the ids and
// times the store chose.
func sameSubscriptions(got, want []portal.Subscription) bool {
	return slices.EqualFunc(got, want, func(g, w portal.Subscription) bool {
		return g.ID != 0 && !g.CreatedAt.IsZero() && g.AppID == w.AppID && g.AppName == w.AppName && g.APIID == w.APIID &&
			g.APIName == w.APIName && g.APIVersion == w.APIVersion && g.APIContext == w.APIContext &&
			g.APIStatus == w.APIStatus && slices.Equal(g.APITiers, w.APITiers) && g.Tier == w.Tier
	})
}
