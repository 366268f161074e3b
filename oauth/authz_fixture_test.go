package oauth_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
)

// authzFixture is a real SQLite database with a user, scopes and a clock the
// tests move by hand, for the authorization, revocation and introspection
// tests of this package.
type authzFixture struct {
	db    *db.DB
	srv   *oauth.Server
	user  *oauth.User
	mu    sync.Mutex
	clock time.Time
}

const fixtureCallback = "https://client.example.com/cb"

// newAuthzFixture opens a fresh database; a test's subtests share it.
func newAuthzFixture(t *testing.T) *authzFixture {
	t.Helper()
	d, err := db.Open(filepath.Join(t.TempDir(), "apistore.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f := &authzFixture{db: d, clock: time.Unix(1_800_000_000, 0)}
	f.srv = oauth.NewServer(d, oauth.Validity{}, f.now)
	ctx := context.Background()
	for _, s := range []oauth.Scope{{Name: "read", Description: "Read orders"}, {Name: "admin", Roles: []string{"admin"}}} {
		if err := d.PutScope(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	u := &db.User{User: oauth.User{Username: "alice", PasswordHash: "x", Roles: []string{"subscriber"}}}
	if err := d.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	f.user = &u.User
	return f
}

func (f *authzFixture) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

// advance moves the clock forward.
func (f *authzFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(d)
}

// testClient is a consumer key with its secret in clear.
type testClient struct {
	*oauth.Client
	secret string
}

// newApp adds an application owned by the fixture's user and returns its
// production key, allowing grants.
func (f *authzFixture) newApp(t *testing.T, grants ...string) testClient {
	t.Helper()
	ctx := context.Background()
	app := &db.Application{OwnerID: f.user.ID, Name: t.Name() + "-" + oauth.NewConsumerKey(), Tier: "Unlimited"}
	var prod testClient
	err := f.db.CreateApplicationWithKeys(ctx, app, func(kt oauth.KeyType) *oauth.Client {
		secret := oauth.NewSecret()
		c := &oauth.Client{ConsumerKey: oauth.NewConsumerKey(), SecretHash: oauth.HashOf(secret), KeyType: kt,
			GrantTypes: grants, CallbackURL: fixtureCallback}
		if kt == oauth.Production {
			prod = testClient{c, secret}
		}
		return c
	})
	if err != nil {
		t.Fatal(err)
	}
	return prod
}
