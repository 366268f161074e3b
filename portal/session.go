package portal

import (
	"time"

	"github.com/apistore/apistore/oauth"
)

// Session is a store log-in session as its user sees it in the list of
// their sessions: where and when it began, and when it was last used.
type Session struct {
	ID         oauth.Hash // the SHA-256 of the random id in the session cookie
	UserID     int64
	CreatedAt  time.Time
	LastSeenAt time.Time // when a page was last shown to it (to within a few minutes)
	ExpiresAt  time.Time
	Address    string // the client address it was last used from
	UserAgent  string // the browser's User-Agent, as sent (clipped)
}

// Ended is what a change to an account ended at once: log-in sessions, and
// tokens (access tokens with their refresh tokens).
type Ended struct {
	Sessions int64
	Tokens   int64
}
