package oauth

import (
	"context"
	"strings"
	"time"
)

// Introspection is a token introspection response (RFC 7662 §2.2); only
// Active is set for a token that is not valid.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	// Cnf holds the token's confirmation (RFC 7800): the key or
	// certificate it is bound to.
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// Confirmation is the cnf member of an introspection response: the proof
// of possession a bound token needs. Nil for a bearer token.
type Confirmation struct {
	// JKT is the DPoP key's SHA-256 JWK thumbprint (RFC 9449 §6.2).
	JKT string `json:"jkt,omitempty"`
}

// Introspect tells an authenticated client whether a token is active and
// what it grants (RFC 7662 §2). A client learns only about its own tokens:
// another client's token is reported inactive (§4).
func (s *Server) Introspect(ctx context.Context, r *TokenHintRequest) (*Introspection, *Error) {
	client, oerr := s.AuthenticateClient(ctx, r.ClientID, r.ClientSecret)
	if oerr != nil {
		return nil, oerr
	}
	t, isRefresh, oerr := s.findToken(ctx, r.Token, r.TokenTypeHint)
	if oerr != nil {
		return nil, oerr
	}
	inactive := &Introspection{}
	if t == nil || t.KeyID != client.KeyID || t.Revoked {
		return inactive, nil
	}
	if oerr := s.bindingProof(ctx, r.DPoP, t.JKT); oerr != nil {
		return nil, oerr
	}
	out := &Introspection{
		Active:   true,
		Scope:    strings.Join(t.Scopes, " "),
		ClientID: t.ConsumerKey,
		Username: t.Username,
		Sub:      t.Username,
		Iat:      t.IssuedAt.Unix(),
	}
	deadline := t.ExpiresAt
	if isRefresh {
		// A refresh token has no token_type of RFC 6749 §7.1 to report.
		deadline = t.RefreshExpiresAt
		if t.RefreshUsed {
			return inactive, nil
		}
	} else {
		out.TokenType = "Bearer"
		if t.JKT != "" {
			out.TokenType = TokenTypeDPoP
		}
	}
	if t.JKT != "" {
		out.Cnf = &Confirmation{JKT: t.JKT}
	}
	if expired(deadline, s.now()) {
		return inactive, nil
	}
	out.Exp = unixOrZero(deadline)
	return out, nil
}

// unixOrZero is the Unix time of t, or 0 (left out) for "never".
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
