package dbtest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func testApplications(t *testing.T, s *suite) {
	t.Run("an application keeps whether its access tokens are JWTs", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		for _, jwt := range []bool{true, false} {
			a := &portal.Application{OwnerID: alice.ID, Name: fmt.Sprint("jwt ", jwt), Tier: "Gold", JWTAccessTokens: jwt}
			var key string
			err := d.CreateApplicationWithKeys(ctx, a, func(kt oauth.KeyType) *oauth.Client {
				c := &oauth.Client{ConsumerKey: oauth.NewConsumerKey(), SecretHash: oauth.HashOf("s"), KeyType: kt, GrantTypes: oauth.DefaultGrantTypes}
				if kt == oauth.Sandbox {
					key = c.ConsumerKey
				}
				return c
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := d.OwnedApplication(ctx, alice.ID, a.ID); err != nil || got.JWTAccessTokens != jwt {
				t.Errorf("OwnedApplication: %+v, %v; want JWTAccessTokens %v", got, err, jwt)
			}
			if c, err := d.ClientByKey(ctx, key); err != nil || c.JWTAccessTokens != jwt {
				t.Errorf("ClientByKey: %+v, %v; want JWTAccessTokens %v", c, err, jwt)
			}
		}
	})

	t.Run("an owner's applications are listed by name in any case", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		for _, name := range []string{"gamma", "alpha", "Beta"} {
			a := &portal.Application{OwnerID: alice.ID, Name: name, Description: "the " + name, CallbackURL: "https://" + name + ".example.com/cb", Tier: "Gold"}
			if err := d.CreateApplication(ctx, a); err != nil || a.ID == 0 {
				t.Fatalf("create %s: id %d, %v", name, a.ID, err)
			}
		}
		fixture.App(t, d, bob, "Bob's")
		list, err := d.ApplicationsByOwner(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(list, func(a portal.Application) string { return a.Name }); !sameWords(got, []string{"alpha", "Beta", "gamma"}) {
			t.Fatalf("alice's applications: %q", got)
		}
		a := list[0]
		if a.OwnerID != alice.ID || a.Description != "the alpha" || a.CallbackURL != "https://alpha.example.com/cb" || a.Tier != "Gold" || a.CreatedAt.IsZero() {
			t.Errorf("listed application: %+v", a)
		}
		owned, err := d.OwnedApplication(ctx, alice.ID, a.ID)
		if err != nil || owned.ID != a.ID || owned.Name != a.Name || owned.Tier != a.Tier || !owned.CreatedAt.Equal(a.CreatedAt) {
			t.Errorf("OwnedApplication: %+v, %v; listed %+v", owned, err, a)
		}
		if list, err := d.ApplicationsByOwner(ctx, user(t, d, "carol").ID); err != nil || len(list) != 0 {
			t.Errorf("applications of a user without any: %+v, %v", list, err)
		}
	})

	t.Run("an application name is the owner's in any case", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		fixture.App(t, d, alice, "App")
		other, _ := fixture.App(t, d, alice, "Other")
		for _, tt := range []struct {
			owner    *portal.User
			name     string
			conflict bool
		}{
			{alice, "App", true},
			{alice, "app", true},
			{alice, "APP", true},
			{bob, "App", false},
			{alice, "App 2", false},
		} {
			a := &portal.Application{OwnerID: tt.owner.ID, Name: tt.name, Tier: "Unlimited"}
			err := d.CreateApplication(ctx, a)
			if got := errors.Is(err, portal.ErrConflict); got != tt.conflict || (!tt.conflict && err != nil) {
				t.Errorf("CreateApplication %s %q: %v, want conflict %v", tt.owner.Username, tt.name, err, tt.conflict)
			}
			if !tt.conflict {
				continue
			}
			err = d.CreateApplicationWithKeys(ctx, &portal.Application{OwnerID: tt.owner.ID, Name: tt.name, Tier: "Unlimited"}, newKey)
			if !errors.Is(err, portal.ErrConflict) {
				t.Errorf("CreateApplicationWithKeys %s %q: %v, want ErrConflict", tt.owner.Username, tt.name, err)
			}
			renamed := &portal.Application{ID: other.AppID, OwnerID: alice.ID, Name: tt.name, Tier: "Unlimited"}
			if err := d.UpdateApplication(ctx, renamed); !errors.Is(err, portal.ErrConflict) {
				t.Errorf("renaming Other to %q: %v, want ErrConflict", tt.name, err)
			}
		}
		// An application may change the case of its own name.
		if err := d.UpdateApplication(ctx, &portal.Application{ID: other.AppID, OwnerID: alice.ID, Name: "OTHER", Tier: "Unlimited"}); err != nil {
			t.Errorf("renaming Other to OTHER: %v", err)
		}
	})

	t.Run("names fold case beyond ASCII", func(t *testing.T) {
		s.bug(t, BugASCIICaseFold)
		d := s.store(t)
		alice := user(t, d, "alice")
		fixture.App(t, d, alice, "Café")
		err := d.CreateApplication(t.Context(), &portal.Application{OwnerID: alice.ID, Name: "CAFÉ", Tier: "Unlimited"})
		if !errors.Is(err, portal.ErrConflict) {
			t.Errorf("CAFÉ beside Café: %v, want ErrConflict", err)
		}
	})

	t.Run("CreateApplicationWithKeys stores the application and both keys", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice", "subscriber")
		a := &portal.Application{OwnerID: alice.ID, Name: "App", Tier: "Unlimited"}
		made := map[oauth.KeyType]*oauth.Client{}
		err := d.CreateApplicationWithKeys(ctx, a, func(kt oauth.KeyType) *oauth.Client {
			c := newKey(kt)
			c.CallbackURL = "https://app.example.com/cb"
			c.Validity = oauth.Validity{AppToken: time.Hour, UserToken: 2 * time.Hour, RefreshToken: -time.Second}
			made[kt] = c
			return c
		})
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == 0 || len(made) != 2 || made[oauth.Production] == nil || made[oauth.Sandbox] == nil {
			t.Fatalf("application %d, keys made %v", a.ID, made)
		}
		for kt, c := range made {
			if c.AppID != a.ID || c.KeyID == 0 {
				t.Errorf("%s key: app %d, id %d; want app %d and an id", kt, c.AppID, c.KeyID, a.ID)
			}
			got, err := d.ClientByKey(ctx, c.ConsumerKey)
			if err != nil {
				t.Fatal(err)
			}
			want := *c
			want.AppName, want.OwnerID, want.Owner, want.OwnerRoles = "App", alice.ID, "alice", []string{"subscriber"}
			if got.KeyID != want.KeyID || got.ConsumerKey != want.ConsumerKey || got.SecretHash != want.SecretHash ||
				got.KeyType != kt || got.AppID != a.ID || got.AppName != "App" || got.OwnerID != alice.ID || got.Owner != "alice" ||
				!sameWords(got.OwnerRoles, want.OwnerRoles) || !sameWords(got.GrantTypes, oauth.DefaultGrantTypes) ||
				got.CallbackURL != want.CallbackURL || got.Validity != want.Validity {
				t.Errorf("ClientByKey of the %s key:\n got %+v\nwant %+v", kt, got, want)
			}
		}
	})

	t.Run("CreateApplicationWithKeys leaves nothing behind when a key fails", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		ck := oauth.NewConsumerKey()
		err := d.CreateApplicationWithKeys(ctx, &portal.Application{OwnerID: alice.ID, Name: "App", Tier: "Unlimited"},
			func(kt oauth.KeyType) *oauth.Client {
				c := newKey(kt)
				c.ConsumerKey = ck // the sandbox key repeats the production key
				return c
			})
		if err == nil {
			t.Fatal("two keys with one consumer key were stored")
		}
		if list, err := d.ApplicationsByOwner(ctx, alice.ID); err != nil || len(list) != 0 {
			t.Errorf("applications after the failure: %+v, %v", list, err)
		}
		c, err := d.ClientByKey(ctx, ck)
		mustNotFound(t, "the production key", c, err)
		// The name is free.
		fixture.App(t, d, alice, "App")
	})

	t.Run("UpdateApplication saves the owner's application only", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice, bob := user(t, d, "alice"), user(t, d, "bob")
		key, _ := fixture.App(t, d, alice, "App")
		a := &portal.Application{ID: key.AppID, OwnerID: alice.ID, Name: "Renamed", Description: "new", CallbackURL: "https://new.example.com/cb", Tier: "Bronze"}
		if err := d.UpdateApplication(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, err := d.OwnedApplication(ctx, alice.ID, key.AppID)
		if err != nil || got.Name != "Renamed" || got.Description != "new" || got.CallbackURL != "https://new.example.com/cb" || got.Tier != "Bronze" {
			t.Errorf("after the update: %+v, %v", got, err)
		}
		if c, err := d.ClientByKey(ctx, key.ConsumerKey); err != nil || c.AppName != "Renamed" {
			t.Errorf("the key's application name: %+v, %v", c, err)
		}
		theft := &portal.Application{ID: key.AppID, OwnerID: bob.ID, Name: "Bob's now", Tier: "Unlimited"}
		if err := d.UpdateApplication(ctx, theft); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("bob updating alice's application: %v, want ErrNotFound", err)
		}
		mine, err := d.OwnedApplication(ctx, bob.ID, key.AppID)
		mustNotFound(t, "alice's application as bob's", mine, err)
		if got, _ := d.OwnedApplication(ctx, alice.ID, key.AppID); got == nil || got.Name != "Renamed" {
			t.Errorf("alice's application after bob's attempt: %+v", got)
		}
	})

	t.Run("deleting an application ends its keys, tokens, codes, subscriptions and consents", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		w := build(t, d)
		if err := d.RecordUsage(ctx, []portal.Usage{{At: t0, AppID: w.key.AppID, APIID: w.api.ID, APIName: "Pizza", Method: "GET", Status: 200}}); err != nil {
			t.Fatal(err)
		}
		if err := d.DeleteApplication(ctx, w.bob.ID, w.key.AppID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("bob deleting alice's application: %v, want ErrNotFound", err)
		}
		if ended(t, d, w.aliceToken.AccessHash) {
			t.Fatal("bob's failed attempt ended alice's token")
		}
		if err := d.DeleteApplication(ctx, w.alice.ID, w.key.AppID); err != nil {
			t.Fatal(err)
		}
		a, err := d.OwnedApplication(ctx, w.alice.ID, w.key.AppID)
		mustNotFound(t, "the application", a, err)
		for _, k := range []string{w.key.ConsumerKey, w.sandbox.ConsumerKey} {
			c, err := d.ClientByKey(ctx, k)
			mustNotFound(t, "a key", c, err)
		}
		for _, tok := range []struct {
			what string
			tok  *oauth.Token
		}{{"alice's token", w.aliceToken}, {"the client_credentials token", w.appToken}, {"the sandbox token", w.sandboxToken}, {"bob's token", w.bobToken}} {
			if !ended(t, d, tok.tok.AccessHash) {
				t.Errorf("%s still gives access", tok.what)
			}
		}
		r, err := d.RefreshToken(ctx, w.aliceToken.RefreshHash)
		mustNotFound(t, "alice's refresh token", r, err)
		c, err := d.CodeByHash(ctx, w.bobCode.Hash)
		mustNotFound(t, "bob's code", c, err)
		if _, _, err := d.SubscriptionTier(ctx, w.key.AppID, w.api.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("the subscription: %v", err)
		}
		scopes, err := d.RememberedScopes(ctx, w.bob.ID, w.key.AppID)
		if !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("bob's remembered consent: %v, %v", scopes, err)
		}
		if list, err := d.Consents(ctx, w.bob.ID); err != nil || len(list) != 0 {
			t.Errorf("bob's consents: %+v, %v", list, err)
		}
		if keys, err := d.KeysOfApplication(ctx, w.key.AppID); err != nil || len(keys) != 0 {
			t.Errorf("the application's keys: %+v, %v", keys, err)
		}

		// What is not the application's stays; its usage outlives it.
		if c, err := d.ClientByKey(ctx, w.other.ConsumerKey); err != nil || c.AppName != "Other" {
			t.Errorf("alice's other application: %+v, %v", c, err)
		}
		if ended(t, d, w.aliceOnBob.AccessHash) {
			t.Error("alice's token for bob's application ended")
		}
		if list, err := d.Consents(ctx, w.alice.ID); err != nil || len(list) != 1 {
			t.Errorf("alice's consent to bob's application: %+v, %v", list, err)
		}
		if u, err := d.UsageOf(ctx, w.key.AppID, 10); err != nil || len(u) != 1 {
			t.Errorf("usage of the deleted application: %+v, %v", u, err)
		}
		if err := d.DeleteApplication(ctx, w.alice.ID, w.key.AppID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("deleting it again: %v, want ErrNotFound", err)
		}
	})
}

// newKey makes a key of type kt with default grants and a random secret,
// for CreateApplicationWithKeys.
func newKey(kt oauth.KeyType) *oauth.Client {
	return &oauth.Client{ConsumerKey: oauth.NewConsumerKey(), SecretHash: oauth.HashOf(oauth.NewSecret()), KeyType: kt,
		GrantTypes: oauth.DefaultGrantTypes}
}
