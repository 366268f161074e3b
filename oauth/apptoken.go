package oauth

import "context"

// IssueApplicationToken issues an application access token for a key, as
// the client_credentials grant would (RFC 6749 §4.4), for the store's
// Generate and Re-generate buttons: the key's owner is logged in, so no
// secret is asked for.
func (s *Server) IssueApplicationToken(ctx context.Context, c *Client) (*TokenResponse, *Error) {
	if !c.Allows(GrantClientCredentials) {
		return nil, ErrUnauthorizedClient("this consumer key may not use the " + GrantClientCredentials + " grant")
	}
	return s.clientCredentialsGrant(ctx, c, &TokenRequest{GrantType: GrantClientCredentials})
}

// Validity returns the server's token lifetimes, defaults filled in.
func (s *Server) Validity() Validity { return s.validity }
