package oauth

import (
	"context"
	"time"
)

// IssueApplicationToken issues an application access token for a key, as
// the client_credentials grant would (RFC 6749 §4.4), for the store's
// Generate and Re-generate buttons: the key's owner is logged in, so no
// secret is asked for.
func (s *Server) IssueApplicationToken(ctx context.Context, c *Client) (*TokenResponse, *Error) {
	if !c.Allows(GrantClientCredentials) {
		return nil, ErrUnauthorizedClient("this consumer key may not use the " + GrantClientCredentials + " grant")
	}
	if c.DPoPRequired {
		return nil, errDPoPRequired()
	}
	return s.clientCredentialsGrant(ctx, c, &TokenRequest{GrantType: GrantClientCredentials})
}

// Validity returns the server's token lifetimes, defaults filled in.
func (s *Server) Validity() Validity { return s.validity }

// GrantConsole is the grant type recorded for the tokens of the store's
// try-it console, so the token store and the audit trail tell them from
// the tokens a client asked /token for. No client can ask for it.
const GrantConsole = "console"

// ConsoleValidity is the longest a console token lives: the time to try an
// API, not to build on it.
const ConsoleValidity = 15 * time.Minute

// IssueConsoleToken issues an access token for a key to the store's try-it
// console, on behalf of the key's owner, who is logged in: as the
// client_credentials grant would (RFC 6749 §4.4), with the requested
// scopes the owner's roles allow, but short-lived (ConsoleValidity, or the
// key's application token validity if shorter), without a refresh token,
// and marked GrantConsole. An owner from a secondary user store is asked
// about there first, as for the client_credentials grant.
func (s *Server) IssueConsoleToken(ctx context.Context, c *Client, scopes []string) (*TokenResponse, *Error) {
	if c.DPoPRequired {
		return nil, errDPoPRequired()
	}
	if oerr := s.checkDirectoryOwner(ctx, c); oerr != nil {
		return nil, oerr
	}
	granted, err := s.grantableScopes(ctx, c.Tenant, scopes, c.OwnerRoles)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, c, c.OwnerID, s.partitionOf(c.Owner), granted, GrantConsole, Hash{}, Hash{})
}
