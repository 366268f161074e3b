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
	// Cnf holds the token's confirmation (RFC 7800 §3.1): the key or
	// certificate it is bound to.
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// Confirmation is the cnf member of an introspection response (RFC 7800
// §3.1): the proof of possession a bound token needs; nil for a bearer
// token. Members are optional.
type Confirmation struct {
	// JKT is the DPoP key's SHA-256 JWK thumbprint (RFC 9449 §6.2).
	JKT string `json:"jkt,omitempty"`
	// X5tS256 is the thumbprint of the client certificate the token is
	// bound to (RFC 8705 §3.2).
	X5tS256 string `json:"x5t#S256,omitempty"`
}

// Introspect tells an authenticated client whether a token is active and
// what it grants (RFC 7662 §2). A client learns only about its own tokens:
// another client's token is reported inactive (§4).
func (s *Server) Introspect(ctx context.Context, r *TokenHintRequest) (*Introspection, *Error) {
	client, oerr := s.authenticate(ctx, r.ClientID, r.ClientSecret, r.ClientCerts)
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
		out.Cnf = confirmation(&t.Token)
	}
	if isRefresh && t.JKT != "" { // a bound chain's refresh token: its key
		out.Cnf = &Confirmation{JKT: t.JKT}
	}
	if expired(deadline, s.now()) {
		return inactive, nil
	}
	out.Exp = unixOrZero(deadline)
	return out, nil
}

// confirmation is what t's access token is bound to (the cnf of RFC 7800
// §3.1, in introspection and in a JWT access token), nil when nothing.
func confirmation(t *Token) *Confirmation {
	if t.JKT == "" && t.CertThumbprint.IsZero() {
		return nil
	}
	c := &Confirmation{JKT: t.JKT}
	if !t.CertThumbprint.IsZero() {
		c.X5tS256 = X5tS256(t.CertThumbprint)
	}
	return c
}

// unixOrZero is the Unix time of t, or 0 (left out) for "never".
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
