package dbtest

import (
	"errors"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func testKeys(t *testing.T, s *suite) {
	t.Run("an application has at most one key of each type", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		a := &portal.Application{OwnerID: alice.ID, Name: "App", Tier: "Unlimited"}
		if err := d.CreateApplication(ctx, a); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			keyType  oauth.KeyType
			conflict bool
		}{
			{oauth.Production, false},
			{oauth.Production, true},
			{oauth.Sandbox, false},
			{oauth.Sandbox, true},
		} {
			c := newKey(tt.keyType)
			c.AppID = a.ID
			err := d.CreateKey(ctx, c)
			if got := errors.Is(err, portal.ErrConflict); got != tt.conflict || (!tt.conflict && (err != nil || c.KeyID == 0)) {
				t.Errorf("CreateKey %s: id %d, %v; want conflict %v", tt.keyType, c.KeyID, err, tt.conflict)
			}
		}
		keys, err := d.KeysOfApplication(ctx, a.ID)
		if err != nil || len(keys) != 2 {
			t.Errorf("keys: %+v, %v", keys, err)
		}
	})

	t.Run("KeysOfApplication lists production first, with the settings", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, sandbox := fixture.App(t, d, alice, "App")
		keys, err := d.KeysOfApplication(ctx, key.AppID)
		if err != nil || len(keys) != 2 {
			t.Fatalf("keys: %+v, %v", keys, err)
		}
		for i, want := range []struct {
			id          int64
			keyType     oauth.KeyType
			consumerKey string
		}{{key.KeyID, oauth.Production, key.ConsumerKey}, {sandbox.KeyID, oauth.Sandbox, sandbox.ConsumerKey}} {
			k := keys[i]
			if k.ID != want.id || k.AppID != key.AppID || k.KeyType != want.keyType || k.ConsumerKey != want.consumerKey ||
				!sameWords(k.GrantTypes, oauth.DefaultGrantTypes) || k.CallbackURL != "" || k.AppTokenValidity != 0 ||
				k.CreatedAt.IsZero() || k.HasAppToken || !k.AppTokenExpiresAt.IsZero() {
				t.Errorf("key %d: %+v", i, k)
			}
		}
		if keys, err := d.KeysOfApplication(ctx, 999_999); err != nil || len(keys) != 0 {
			t.Errorf("keys of a missing application: %+v, %v", keys, err)
		}
	})

	t.Run("KeysOfApplication shows the newest application token's expiry", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, sandbox := fixture.App(t, d, alice, "App")
		appToken := func(expires time.Time) *oauth.Token {
			tok := token(key, alice, oauth.GrantClientCredentials)
			tok.ExpiresAt = expires
			return tok
		}
		longer, shorter, forever := appToken(t0.Add(2*time.Hour)), appToken(t0.Add(time.Hour)), appToken(time.Time{})
		for _, step := range []struct {
			name    string
			do      func() error
			has     bool
			expires time.Time // zero: never, or none
		}{
			{"no token yet", func() error { return nil }, false, time.Time{}},
			{"a user's token is not an application token",
				func() error { return d.CreateToken(ctx, token(key, alice, oauth.GrantPassword)) }, false, time.Time{}},
			{"one application token", func() error { return d.CreateToken(ctx, longer) }, true, longer.ExpiresAt},
			{"the newest stored counts, not the latest expiry", func() error { return d.CreateToken(ctx, shorter) }, true, shorter.ExpiresAt},
			{"a revoked one does not count", func() error { return d.RevokeToken(ctx, shorter.AccessHash) }, true, longer.ExpiresAt},
			{"one that never expires", func() error { return d.CreateToken(ctx, forever) }, true, time.Time{}},
			{"all revoked", func() error { return d.RevokeApplicationTokens(ctx, key.KeyID) }, false, time.Time{}},
		} {
			if err := step.do(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			keys, err := d.KeysOfApplication(ctx, key.AppID)
			if err != nil || len(keys) != 2 {
				t.Fatalf("%s: %+v, %v", step.name, keys, err)
			}
			if k := keys[0]; k.HasAppToken != step.has || !k.AppTokenExpiresAt.Equal(step.expires) {
				t.Errorf("%s: has %v expiring %v; want %v, %v", step.name, k.HasAppToken, k.AppTokenExpiresAt, step.has, step.expires)
			}
			if k := keys[1]; k.ID != sandbox.KeyID || k.HasAppToken {
				t.Errorf("%s: the sandbox key shows the production key's token: %+v", step.name, k)
			}
		}
	})

	t.Run("ReplaceSecret ends every token of the key and refuses the old secret's", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		w := build(t, d)
		secret := oauth.HashOf("new secret")
		if err := d.ReplaceSecret(ctx, w.key.KeyID, secret); err != nil {
			t.Fatal(err)
		}
		if c, err := d.ClientByKey(ctx, w.key.ConsumerKey); err != nil || c.SecretHash != secret {
			t.Errorf("the key's secret: %+v, %v", c, err)
		}
		for _, tok := range []struct {
			what  string
			tok   *oauth.Token
			ended bool
		}{
			{"alice's password token", w.aliceToken, true},
			{"the client_credentials token", w.appToken, true},
			{"bob's authorization_code token", w.bobToken, true},
			{"the sandbox key's token", w.sandboxToken, false},
			{"a token of another application", w.aliceOnBob, false},
		} {
			if got := revoked(t, d, tok.tok.AccessHash); got != tok.ended {
				t.Errorf("%s: revoked %v, want %v", tok.what, got, tok.ended)
			}
		}
		// A request that authenticated with the old secret before the
		// change gets no token from it.
		stale := token(w.key, w.alice, oauth.GrantPassword)
		stale.SecretHash = w.key.SecretHash
		if err := d.CreateToken(ctx, stale); !errors.Is(err, oauth.ErrSecretReplaced) {
			t.Errorf("CreateToken with the old secret: %v, want ErrSecretReplaced", err)
		}
		info, err := d.AccessToken(ctx, stale.AccessHash)
		mustNotFound(t, "the refused token", info, err)
		fresh := token(w.key, w.alice, oauth.GrantPassword)
		fresh.SecretHash = secret
		if err := d.CreateToken(ctx, fresh); err != nil {
			t.Errorf("CreateToken with the new secret: %v", err)
		}
		if err := d.ReplaceSecret(ctx, 999_999, secret); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("ReplaceSecret of a missing key: %v, want ErrNotFound", err)
		}
	})

	t.Run("RevokeApplicationTokens ends the key's client_credentials tokens only", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		w := build(t, d)
		sandboxApp := token(w.sandbox, w.alice, oauth.GrantClientCredentials)
		save(t, d, sandboxApp)
		if err := d.RevokeApplicationTokens(ctx, w.key.KeyID); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []struct {
			what  string
			tok   *oauth.Token
			ended bool
		}{
			{"the key's client_credentials token", w.appToken, true},
			{"alice's password token", w.aliceToken, false},
			{"bob's authorization_code token", w.bobToken, false},
			{"the sandbox key's client_credentials token", sandboxApp, false},
		} {
			if got := revoked(t, d, tok.tok.AccessHash); got != tok.ended {
				t.Errorf("%s: revoked %v, want %v", tok.what, got, tok.ended)
			}
		}
	})

	t.Run("UpdateKeySettings saves grants, callback and application token validity", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		for _, tt := range []struct {
			name     string
			grants   []string
			callback string
			validity time.Duration
		}{
			{"narrowed", []string{oauth.GrantClientCredentials}, "https://app.example.com/cb", 30 * time.Minute},
			{"never expiring", []string{oauth.GrantPassword, oauth.GrantImplicit}, "", -time.Second},
			{"back to the server's setting", oauth.DefaultGrantTypes, "https://app.example.com/other", 0},
		} {
			if err := d.UpdateKeySettings(ctx, key.KeyID, tt.grants, tt.callback, tt.validity); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			c, err := d.ClientByKey(ctx, key.ConsumerKey)
			if err != nil || !sameWords(c.GrantTypes, tt.grants) || c.CallbackURL != tt.callback || c.Validity.AppToken != tt.validity ||
				c.Validity.UserToken != 0 || c.Validity.RefreshToken != 0 {
				t.Errorf("%s: client %+v, %v", tt.name, c, err)
			}
			keys, err := d.KeysOfApplication(ctx, key.AppID)
			if err != nil || !sameWords(keys[0].GrantTypes, tt.grants) || keys[0].CallbackURL != tt.callback || keys[0].AppTokenValidity != tt.validity {
				t.Errorf("%s: listed %+v, %v", tt.name, keys[0], err)
			}
		}
		if err := d.UpdateKeySettings(ctx, 999_999, oauth.DefaultGrantTypes, "", 0); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("UpdateKeySettings of a missing key: %v, want ErrNotFound", err)
		}
	})
}
