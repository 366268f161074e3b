package oauth_test

import (
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// authzFixture is a real SQLite database with a user, scopes and a clock the
// tests move by hand, for the authorization, revocation and introspection
// tests of this package.
type authzFixture struct {
	db    db.Store
	srv   *oauth.Server
	user  *portal.User
	clock *fixture.Clock
}

const fixtureCallback = "https://client.example.com/cb"

// newAuthzFixture opens a fresh database; a test's subtests share it.
func newAuthzFixture(t *testing.T) *authzFixture {
	t.Helper()
	d := fixture.DB(t)
	f := &authzFixture{db: d, clock: fixture.NewClock(time.Unix(1_800_000_000, 0))}
	f.srv = oauth.NewServer(d, oauth.Validity{}, f.clock.Now)
	fixture.Scope(t, d, "read")
	fixture.Scope(t, d, "admin", "admin")
	f.user = fixture.User(t, d, "alice", "alice-password", "subscriber")
	return f
}

// newApp adds an application of the fixture's user allowing grants, and
// returns its production key.
func (f *authzFixture) newApp(t *testing.T, grants ...string) fixture.Key {
	t.Helper()
	prod, _ := fixture.AppWithCallback(t, f.db, f.user, t.Name()+"-"+oauth.NewConsumerKey(), fixtureCallback, grants...)
	return prod
}
