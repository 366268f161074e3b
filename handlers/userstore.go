package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/labstack/echo/v4"
)

// Directory holds the secondary user stores (LDAP) whose users log in as
// DOMAIN/name (see userstore.Directory).
type Directory interface {
	// Claims reports whether username belongs to a secondary user store.
	Claims(username string) bool
	// LogIn checks the password with the user's store and returns the
	// local account: oauth.ErrNotFound for a wrong name or password, an
	// error wrapping oauth.ErrDirectoryUnavailable when the store cannot
	// be reached.
	LogIn(ctx context.Context, username, password string) (*portal.User, error)
}

// WithDirectory lets the users of secondary user stores log in to the
// store (the password grant has oauth.Server.SetDirectory).
func WithDirectory(d Directory) Option {
	return func(h *Handlers) { h.directory = d }
}

// checkLogIn checks a username and password against the user's store: a
// secondary one when the directory claims the name, the database
// otherwise (as slow for an unknown user as for a real check). It returns
// the account when there is one (for the audit trail) and whether the
// password matched.
func (h *Handlers) checkLogIn(c echo.Context, username, password string) (*portal.User, bool, error) {
	ctx := c.Request().Context()
	if h.directory != nil && h.directory.Claims(username) {
		u, err := h.directory.LogIn(ctx, username, password)
		if errors.Is(err, oauth.ErrNotFound) {
			return nil, false, nil
		}
		return u, err == nil, err
	}
	u, err := h.store.UserAccount(ctx, username)
	hash := "" // an unknown user: as slow as a real check, and no match
	switch {
	case isNotFound(err):
	case err != nil:
		return nil, false, err
	default:
		hash = u.PasswordHash
	}
	ok, err := oauth.CheckPasswordFor(ctx, passwordSource(c), hash, password)
	if err != nil && !errors.Is(err, oauth.ErrPasswordBusy) {
		err = fmt.Errorf("check password: %w", err)
	}
	return u, ok, err
}
