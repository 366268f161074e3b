package dbtest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// t0 is the suite's clock: whole milliseconds, the precision both stores
// keep times at, so a time reads back Equal to the one stored.
var t0 = time.UnixMilli(1_800_000_000_000)

// user creates a user. The password hash is not a real one: no store checks
// it, and hashing (fixture.User) would make the suite slow.
func user(t testing.TB, d db.Store, name string, roles ...string) *portal.User {
	t.Helper()
	u := &portal.User{User: oauth.User{Username: name, PasswordHash: "$not-a-hash$" + name, Roles: roles},
		Email: name + "@example.com"}
	if err := d.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

// token returns a new, unsaved token of the key for u, issued at t0 and
// valid for an hour; a token of a user's grant has a refresh token valid
// for a day.
func token(k fixture.Key, u *portal.User, grant string) *oauth.Token {
	tok := &oauth.Token{AccessHash: oauth.HashOf(oauth.NewSecret()), KeyID: k.KeyID, UserID: u.ID,
		Scopes: []string{"default", "read"}, GrantType: grant, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	tok.FamilyID = tok.AccessHash
	if grant != oauth.GrantClientCredentials {
		tok.RefreshHash = oauth.HashOf(oauth.NewSecret())
		tok.RefreshExpiresAt = t0.Add(24 * time.Hour)
	}
	return tok
}

// successor returns a new, unsaved token that continues tok's refresh chain.
func successor(tok *oauth.Token) *oauth.Token {
	next := &oauth.Token{AccessHash: oauth.HashOf(oauth.NewSecret()), RefreshHash: oauth.HashOf(oauth.NewSecret()),
		FamilyID: tok.FamilyID, KeyID: tok.KeyID, UserID: tok.UserID, Scopes: tok.Scopes,
		GrantType: oauth.GrantRefreshToken, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), RefreshExpiresAt: t0.Add(24 * time.Hour)}
	return next
}

// save stores tokens with CreateToken.
func save(t testing.TB, d db.Store, tokens ...*oauth.Token) {
	t.Helper()
	for _, tok := range tokens {
		if err := d.CreateToken(context.Background(), tok); err != nil {
			t.Fatalf("create token: %v", err)
		}
	}
}

// code returns a new, saved authorization code of the key for u, valid
// for ten minutes from t0.
func code(t testing.TB, d db.Store, k fixture.Key, u *portal.User) *oauth.Code {
	t.Helper()
	c := &oauth.Code{Hash: oauth.HashOf(oauth.NewSecret()), KeyID: k.KeyID, UserID: u.ID,
		RedirectURI: "https://app.example.com/cb", Scopes: []string{"openid", "read"},
		Challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", ChallengeMethod: "S256",
		IssuedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
	if err := d.CreateCode(context.Background(), c); err != nil {
		t.Fatalf("create code: %v", err)
	}
	return c
}

// codeToken returns a new, unsaved token for redeeming c.
func codeToken(k fixture.Key, c *oauth.Code) *oauth.Token {
	tok := &oauth.Token{AccessHash: oauth.HashOf(oauth.NewSecret()), RefreshHash: oauth.HashOf(oauth.NewSecret()),
		KeyID: k.KeyID, UserID: c.UserID, Scopes: c.Scopes, GrantType: oauth.GrantAuthorizationCode,
		IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), RefreshExpiresAt: t0.Add(24 * time.Hour)}
	tok.FamilyID = tok.AccessHash
	return tok
}

// newAPI returns an unsaved API at context and version with two resources.
func newAPI(name, apiContext, version string) *portal.API {
	return &portal.API{Name: name, Version: version, Context: apiContext, Description: name + " API",
		ProductionURL: "https://prod.example.com" + apiContext, SandboxURL: "https://sandbox.example.com" + apiContext,
		Resources: []portal.Resource{{Method: "POST", Path: "/order", Scope: "update"}, {Method: "GET", Path: "/menu"}}}
}

// createAPI saves a new API.
func createAPI(t testing.TB, d db.Store, name, apiContext, version string) *portal.API {
	t.Helper()
	a := newAPI(name, apiContext, version)
	if err := d.CreateAPI(context.Background(), a); err != nil {
		t.Fatalf("create API %s: %v", name, err)
	}
	return a
}

// world is a store's worth of everything, for the tests that end things:
// alice owns App (both keys) and Other; bob owns BobApp; the Pizza API.
// App has alice's password token, a client_credentials token, bob's
// authorization_code token and an unused code of bob's, bob's remembered
// consent and a subscription to Pizza; alice has a session, a token and a
// code on bob's application and a consent for it.
type world struct {
	alice, bob                  *portal.User
	key, sandbox, other, bobKey fixture.Key
	api                         *portal.API
	aliceToken, appToken        *oauth.Token // alice's on App
	sandboxToken                *oauth.Token // alice's on App's sandbox key
	bobToken                    *oauth.Token // bob's on App
	aliceOnBob                  *oauth.Token // alice's on BobApp
	bobCode, aliceCode          *oauth.Code  // bob's on App, alice's on BobApp
	aliceSession, bobSession    oauth.Hash
}

func build(t testing.TB, d db.Store) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{alice: user(t, d, "alice", "subscriber"), bob: user(t, d, "bob")}
	w.key, w.sandbox = fixture.App(t, d, w.alice, "App")
	w.other, _ = fixture.App(t, d, w.alice, "Other")
	w.bobKey, _ = fixture.App(t, d, w.bob, "BobApp")
	w.api = createAPI(t, d, "Pizza", "/pizza", "v1")
	if err := d.Subscribe(ctx, w.key.AppID, w.api.ID, "Gold"); err != nil {
		t.Fatal(err)
	}
	w.aliceToken = token(w.key, w.alice, oauth.GrantPassword)
	w.appToken = token(w.key, w.alice, oauth.GrantClientCredentials)
	w.sandboxToken = token(w.sandbox, w.alice, oauth.GrantPassword)
	w.bobToken = token(w.key, w.bob, oauth.GrantAuthorizationCode)
	w.aliceOnBob = token(w.bobKey, w.alice, oauth.GrantAuthorizationCode)
	save(t, d, w.aliceToken, w.appToken, w.sandboxToken, w.bobToken, w.aliceOnBob)
	w.bobCode = code(t, d, w.key, w.bob)
	w.aliceCode = code(t, d, w.bobKey, w.alice)
	for _, c := range []*portal.Consent{
		{UserID: w.bob.ID, AppID: w.key.AppID, Scopes: []string{"read"}, Remember: true, ApprovedAt: t0},
		{UserID: w.alice.ID, AppID: w.bobKey.AppID, Scopes: []string{"read"}, Remember: true, ApprovedAt: t0},
	} {
		if err := d.SaveConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	w.aliceSession, w.bobSession = oauth.HashOf(oauth.NewSecret()), oauth.HashOf(oauth.NewSecret())
	for _, s := range []struct {
		id oauth.Hash
		u  *portal.User
	}{{w.aliceSession, w.alice}, {w.bobSession, w.bob}} {
		if err := d.CreateSession(ctx, s.id, s.u.ID, t0, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// mustNotFound fails t unless err is a wrapped oauth.ErrNotFound and v
// is nil: a store never answers (nil, nil), nor a value with the error.
func mustNotFound[V any](t testing.TB, what string, v *V, err error) {
	t.Helper()
	if !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("%s: error %v, want ErrNotFound", what, err)
	}
	if v != nil {
		t.Errorf("%s: returned %+v with the error", what, *v)
	}
}

// revoked reports whether the stored token hashing to access is revoked;
// a token no longer stored fails t.
func revoked(t testing.TB, d db.Store, access oauth.Hash) bool {
	t.Helper()
	info, err := d.AccessToken(context.Background(), access)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	return info.Revoked
}

// ended reports whether the token hashing to access no longer gives
// access: revoked, or not stored at all.
func ended(t testing.TB, d db.Store, access oauth.Hash) bool {
	t.Helper()
	info, err := d.AccessToken(context.Background(), access)
	if errors.Is(err, oauth.ErrNotFound) {
		return true
	}
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	return info.Revoked
}

// generation reads d's access generation.
func generation(t testing.TB, d db.Freshness) uint64 {
	t.Helper()
	return fixture.Generation(t, d)
}

// names returns the field f of each element of list.
func names[E any](list []E, f func(E) string) []string {
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, f(e))
	}
	return out
}

// sameWords reports whether a and b hold the same words in the same
// order; nil and empty are the same.
func sameWords(a, b []string) bool { return slices.Equal(a, b) }

// together runs fn(i) for i in [0, n) in goroutines released at once, and
// waits for all of them: a race for the same row, not a queue.
func together(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}
