package oauth

import (
	"context"
	"errors"
	"net/http"
)

// ErrDirectoryUnavailable is wrapped by a Directory that cannot reach a
// user's store: the user is neither accepted nor refused, and the failure
// counts as no failed attempt.
var ErrDirectoryUnavailable = errors.New("the user store cannot be reached")

// Directory authenticates the users of secondary user stores (LDAP), whose
// usernames name their store (DOMAIN/name, as WSO2 has them).
type Directory interface {
	// Claims reports whether username belongs to a secondary user store
	// rather than to the primary one (the database).
	Claims(username string) bool
	// Authenticate checks the password with the user's store and returns
	// the user's local account, its roles those the store gives now. A
	// wrong name or password, or a user the store disables, is ErrNotFound;
	// a store that cannot be reached wraps ErrDirectoryUnavailable.
	Authenticate(ctx context.Context, username, password string) (*User, error)
	// CheckUser asks the store of the user with the id, when a secondary
	// store holds them, whether it still has them, as a grant that issues
	// them tokens without a password (refresh, authorization code) must:
	// ErrNotFound when it no longer has them or disables them (their
	// local account is then disabled), an error wrapping
	// ErrDirectoryUnavailable when it cannot be reached, nil for the
	// primary store's users.
	CheckUser(ctx context.Context, userID int64) error
}

// SetDirectory makes the password grant authenticate the usernames that
// d claims with d. Call it before serving.
func (s *Server) SetDirectory(d Directory) { s.directory = d }

// directoryPasswordGrant is the password grant for a user of a secondary
// user store.
func (s *Server) directoryPasswordGrant(ctx context.Context, c *Client, r *TokenRequest) (*TokenResponse, *Error) {
	u, err := s.directory.Authenticate(ctx, r.Username, r.Password)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrInvalidGrant("invalid username or password")
	case errors.Is(err, ErrDirectoryUnavailable):
		return nil, ErrDirectoryDown()
	case ctx.Err() != nil:
		return nil, ErrServer()
	case err != nil:
		return nil, internal(ctx, "user store", err)
	case u.Disabled: // said only to whoever knows the password
		return nil, ErrInvalidGrant("the account is disabled")
	}
	return s.passwordTokens(ctx, c, u, r)
}

// checkDirectoryUser refuses tokens for a user whom their secondary user
// store no longer has or disables (invalid_grant), at once rather than at
// the next sync, and answers server_error (503) when the store cannot be
// reached, as the password grant does.
func (s *Server) checkDirectoryUser(ctx context.Context, userID int64) *Error {
	if s.directory == nil || userID == 0 {
		return nil
	}
	err := s.directory.CheckUser(ctx, userID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return ErrInvalidGrant("the user's account is disabled or deleted")
	case errors.Is(err, ErrDirectoryUnavailable):
		return ErrDirectoryDown()
	case ctx.Err() != nil:
		return ErrServer()
	}
	return internal(ctx, "user store", err)
}

// checkDirectoryOwner is checkDirectoryUser for the owner of a key, on
// whose behalf application tokens are issued, asked only when a secondary
// store claims the owner's name: the client_credentials grant is the
// busiest, and the primary store's owners need no user read.
func (s *Server) checkDirectoryOwner(ctx context.Context, c *Client) *Error {
	if s.directory == nil || !s.directory.Claims(c.Owner) {
		return nil
	}
	return s.checkDirectoryUser(ctx, c.OwnerID)
}

// ErrDirectoryDown answers a password grant whose user store cannot be
// reached: server_error with 503, as the outage may pass.
func ErrDirectoryDown() *Error {
	return newError(ErrCodeServerError, http.StatusServiceUnavailable,
		"the user store cannot be reached; retry later")
}
