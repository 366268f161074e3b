package oauth

import (
	"context"
	"errors"
	"fmt"
)

// ErrInvalidToken is wrapped by Validate's errors; the wrapping text says why
// (unknown, expired, revoked). It maps to RFC 6750's invalid_token.
var ErrInvalidToken = errors.New("invalid token")

// Validate returns what a bearer access token grants — its user, application,
// key type, scopes and expiry — or an error wrapping ErrInvalidToken.
// Any other error is a storage failure.
func (s *Server) Validate(ctx context.Context, accessToken string) (*TokenInfo, error) {
	if accessToken == "" {
		return nil, fmt.Errorf("%w: no token", ErrInvalidToken)
	}
	info, err := s.store.AccessToken(forToken(ctx, accessToken), HashOf(accessToken))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("%w: unknown token", ErrInvalidToken)
	case err != nil:
		return nil, fmt.Errorf("validate token: %w", err)
	case info.Revoked:
		return nil, fmt.Errorf("%w: token revoked", ErrInvalidToken)
	case expired(info.ExpiresAt, s.now()):
		return nil, fmt.Errorf("%w: token expired", ErrInvalidToken)
	}
	return info, nil
}
