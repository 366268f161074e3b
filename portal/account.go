package portal

import (
	"time"

	"github.com/apistore/apistore/oauth"
)

// User is an account: a resource owner and, in the store, an app developer.
type User struct {
	oauth.User
	Email     string
	CreatedAt time.Time
	// DisabledAt is when an administrator disabled the account (zero: it
	// is enabled); User.Disabled says the same to the oauth core.
	DisabledAt time.Time
	TenantID   int64
	// TenantActive is false when the user's tenant is deactivated: the
	// user is then Disabled too, but DisabledAt stays zero.
	TenantActive bool
}

// Consent is a user's approval of an application at the consent page.
type Consent struct {
	UserID  int64
	AppID   int64
	AppName string
	Owner   string // the application owner's username
	// Scopes are those of this approval when saving one; when listing, all
	// the scopes the user has granted the application since first approving
	// it, which its tokens may still carry.
	Scopes []string
	// Remember asks that this approval be remembered; when listing, whether
	// one is.
	Remember   bool
	ApprovedAt time.Time
}

// LoginCount is one brute-force counter — of a username, a client address
// or a consumer key — as the stores keep it for every node: its recent
// failures and the password checks under way.
type LoginCount struct {
	Key      string
	Failures int       // failures since the counter last started again
	Last     time.Time // the latest failure; zero when none
	Pending  int       // reservations not yet settled nor expired
}
