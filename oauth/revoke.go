package oauth

import (
	"context"
	"crypto/x509"
	"errors"
)

// Token type hints of RFC 7009 §2.1 (also RFC 7662 §2.1).
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// TokenHintRequest is a parsed revocation (RFC 7009 §2.1) or introspection
// (RFC 7662 §2.1) request with its client credentials.
type TokenHintRequest struct {
	Token         string
	TokenTypeHint string
	ClientID      string
	ClientSecret  string
	// ClientCerts is the client's TLS certificate chain, as
	// TokenRequest.ClientCerts; the caller sets it.
	ClientCerts []*x509.Certificate
	// DPoP is the request's DPoP proof, checked against a bound token's
	// key when sent; nil or empty for none. The caller sets it.
	DPoP *DPoPRequest
}

var tokenHintParams = []string{"token", "token_type_hint", "client_id", "client_secret"}

// ParseTokenHintRequest parses the body, Content-Type and Authorization
// header of a POST to the revocation or introspection endpoint.
func ParseTokenHintRequest(contentType, authorization, body string) (*TokenHintRequest, *Error) {
	form, oerr := parsePostForm(contentType, body, tokenHintParams)
	if oerr != nil {
		return nil, oerr
	}
	r := &TokenHintRequest{Token: form["token"], TokenTypeHint: form["token_type_hint"]}
	if r.ClientID, r.ClientSecret, oerr = clientCredentials(authorization, form["client_id"], form["client_secret"]); oerr != nil {
		return nil, oerr
	}
	if r.ClientID == "" {
		return nil, ErrInvalidClient("client authentication is required")
	}
	if r.Token == "" {
		return nil, ErrInvalidRequest("token is missing")
	}
	return r, nil
}

// Revocation tells what a revocation ended, for WSO2's response headers.
// The token the client sent is given back as it was sent (the client holds
// it already); the other token of the pair is given as its SHA-256, since
// only hashes are stored.
type Revocation struct {
	AccessToken  string
	RefreshToken string // empty when the token had no refresh token
	Username     string
}

// Revoke ends a token (RFC 7009 §2.1): a refresh token with every access
// token of its chain, an access token with its refresh token. Unknown
// tokens, and tokens of other clients, are left alone without an error
// (§2.2), so Revoke returns a nil Revocation for them. Implicit-grant tokens
// may be revoked with client_id alone, since their clients hold no secret;
// any other token needs client authentication.
func (s *Server) Revoke(ctx context.Context, r *TokenHintRequest) (*Revocation, *Error) {
	client, authenticated, oerr := s.revokingClient(ctx, r.ClientID, r.ClientSecret, r.ClientCerts)
	if oerr != nil {
		return nil, oerr
	}
	t, isRefresh, oerr := s.findToken(ctx, r.Token, r.TokenTypeHint)
	if oerr != nil || t == nil || t.KeyID != client.KeyID {
		return nil, oerr
	}
	if !authenticated && t.GrantType != GrantImplicit {
		return nil, ErrInvalidClient("client authentication is required to revoke this token")
	}
	if oerr := s.bindingProof(ctx, r.DPoP, t.JKT); oerr != nil {
		return nil, oerr
	}
	if t.Revoked {
		return nil, nil
	}
	var err error
	ctx = InPartition(ctx, t.Partition)
	if isRefresh {
		err = s.store.RevokeFamily(ctx, t.FamilyID)
	} else {
		err = s.store.RevokeToken(ctx, t.AccessHash)
	}
	if err != nil {
		return nil, internal(ctx, "revoke token", err)
	}
	rev := &Revocation{AccessToken: t.AccessHash.String(), Username: t.Username}
	if t.HasRefresh() {
		rev.RefreshToken = t.RefreshHash.String()
	}
	if isRefresh {
		rev.RefreshToken = r.Token
	} else {
		rev.AccessToken = r.Token
	}
	return rev, nil
}

// revokingClient authenticates the client, or with client_id alone finds it
// as a public client (reported unauthenticated). A client registered for
// certificate authentication that presents a certificate is authenticated
// by it (RFC 8705 §2).
func (s *Server) revokingClient(ctx context.Context, id, secret string, chain []*x509.Certificate) (*Client, bool, *Error) {
	if secret != "" {
		c, oerr := s.authenticate(ctx, id, secret, chain)
		return c, true, oerr
	}
	c, err := s.store.ClientByKey(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, false, ErrInvalidClient("client authentication failed")
	}
	if err != nil {
		return nil, false, internal(ctx, "load client", err)
	}
	if c.TLSAuth.Method != "" && len(chain) > 0 {
		if !s.certAuthenticates(c.TLSAuth, chain) {
			return nil, false, ErrInvalidClient("client authentication failed: the TLS client certificate is not the one registered for this client")
		}
		return c, true, nil
	}
	return c, false, nil
}

// findToken looks the token up as the hinted type first, then as the other
// (RFC 7009 §2.1); it returns nil when it is neither.
func (s *Server) findToken(ctx context.Context, token, hint string) (*TokenInfo, bool, *Error) {
	h := HashOf(token)
	lookups := []func(context.Context, Hash) (*TokenInfo, error){s.store.AccessToken, s.store.RefreshTokenInfo}
	if hint == HintRefreshToken {
		lookups[0], lookups[1] = lookups[1], lookups[0]
	}
	ctx = forToken(ctx, token)
	for i, lookup := range lookups {
		t, err := lookup(ctx, h)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, false, internal(ctx, "load token", err)
		}
		isRefresh := (i == 0) == (hint == HintRefreshToken)
		return t, isRefresh, nil
	}
	return nil, false, nil
}
