package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"regexp"
	"time"
)

// PKCE code challenge methods (RFC 7636 §4.2).
const (
	PKCES256  = "S256"
	PKCEPlain = "plain"
)

// ErrCodeUsed is returned by CodeStore.RedeemCode when the code was used in
// the meantime.
var ErrCodeUsed = errors.New("authorization code already used")

// pkceValue is the syntax shared by code_verifier (RFC 7636 §4.1) and
// code_challenge (§4.2): 43 to 128 unreserved characters.
var pkceValue = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// checkChallenge validates the PKCE parameters of an authorization request
// (RFC 7636 §4.3); it returns the method to store, plain when none was named.
func checkChallenge(challenge, method string) (string, *Error) {
	if challenge == "" {
		if method != "" {
			return "", ErrInvalidRequest("code_challenge_method was sent without code_challenge")
		}
		return "", nil
	}
	if method == "" {
		method = PKCEPlain
	}
	if method != PKCES256 && method != PKCEPlain {
		return "", ErrInvalidRequest("code_challenge_method must be S256 or plain")
	}
	if !pkceValue.MatchString(challenge) {
		return "", ErrInvalidRequest("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	}
	return method, nil
}

// verifyPKCE checks a code_verifier against the code's challenge (RFC 7636
// §4.6). A verifier for a code issued without a challenge is refused too, so
// that a client cannot be downgraded silently.
func verifyPKCE(c *Code, verifier string) *Error {
	switch {
	case c.Challenge == "" && verifier != "":
		return ErrInvalidGrant("code_verifier was sent but the authorization request had no code_challenge")
	case c.Challenge == "":
		return nil
	case verifier == "":
		return ErrInvalidGrant("code_verifier is required: the authorization request had a code_challenge")
	case !pkceValue.MatchString(verifier):
		return ErrInvalidGrant("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	}
	want := verifier
	if c.ChallengeMethod == PKCES256 {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.Challenge)) != 1 {
		return ErrInvalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}

// newCode makes and stores an authorization code for an approved request
// (RFC 6749 §4.1.2); it returns the code to send to the client. The code
// names the partition of the tokens it will be exchanged for.
func (s *Server) newCode(ctx context.Context, a *Authorization, userID int64, partition string, scopes []string) (string, *Error) {
	now := s.now()
	code := markToken(partition, NewSecret())
	err := s.store.CreateCode(ctx, &Code{
		Hash:            HashOf(code),
		KeyID:           a.Client.KeyID,
		UserID:          userID,
		RedirectURI:     a.Request.RedirectURI,
		Scopes:          scopes,
		Challenge:       a.Request.CodeChallenge,
		ChallengeMethod: a.challengeMethod,
		DPoPJKT:         a.Request.DPoPJKT,
		IssuedAt:        now,
		ExpiresAt:       now.Add(s.codeValidity(a.Client)),
	})
	if err != nil {
		return "", internal(ctx, "store authorization code", err)
	}
	return code, nil
}

func (s *Server) codeValidity(c *Client) time.Duration {
	return c.Validity.orDefault(s.validity).Code
}

// authorizationCodeGrant exchanges a code for tokens (RFC 6749 §4.1.3). A
// code is single use: its client presenting it again revokes every token
// issued from it (§4.1.2, "SHOULD revoke").
func (s *Server) authorizationCodeGrant(ctx context.Context, c *Client, r *TokenRequest) (*TokenResponse, *Error) {
	if r.Code == "" {
		return nil, ErrInvalidRequest("code is missing")
	}
	h := HashOf(r.Code)
	// The tokens issued from it, or to be revoked for its reuse, are in
	// the partition the code names.
	ctx = forToken(ctx, r.Code)
	code, err := s.store.CodeByHash(ctx, h)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrInvalidGrant("the authorization code is not valid")
	case err != nil:
		return nil, internal(ctx, "load authorization code", err)
	case code.KeyID != c.KeyID:
		// Checked before reuse: another client must not be able to revoke
		// the tokens of a code it got hold of.
		return nil, ErrInvalidGrant("the authorization code was issued to another client")
	case code.Used:
		return nil, s.codeReused(ctx, code.FamilyID)
	case expired(code.ExpiresAt, s.now()):
		return nil, ErrInvalidGrant("the authorization code has expired")
	}
	if oerr := checkCodeRedirect(code, c, r.RedirectURI); oerr != nil {
		return nil, oerr
	}
	if oerr := verifyPKCE(code, r.CodeVerifier); oerr != nil {
		return nil, oerr
	}
	if jkt, _ := ctx.Value(proofKeyCtx{}).(string); code.DPoPJKT != "" && jkt != code.DPoPJKT {
		return nil, ErrInvalidDPoPProof("the authorization code is bound to a DPoP key (dpop_jkt): send a proof signed by that key")
	}
	if oerr := s.checkDirectoryUser(ctx, code.UserID); oerr != nil {
		return nil, oerr
	}
	t, resp := s.newToken(c, code.UserID, PartitionFrom(ctx), code.Scopes, GrantAuthorizationCode, Hash{}, refreshAllowed(c, GrantAuthorizationCode),
		certThumbprint(r.ClientCerts))
	bindToProofKey(ctx, t, resp)
	if oerr := s.formatJWT(ctx, c, t, resp); oerr != nil {
		return nil, oerr
	}
	err = s.store.RedeemCode(ctx, h, t)
	if errors.Is(err, ErrCodeUsed) {
		// Another exchange won the race; its family is on the code now.
		if code, err = s.store.CodeByHash(ctx, h); err != nil {
			return nil, internal(ctx, "load authorization code", err)
		}
		return nil, s.codeReused(ctx, code.FamilyID)
	}
	if errors.Is(err, ErrSecretReplaced) {
		return nil, errSecretReplaced()
	}
	if err != nil {
		return nil, internal(ctx, "redeem authorization code", err)
	}
	return resp, nil
}

// checkCodeRedirect enforces RFC 6749 §4.1.3: a redirect_uri sent in the
// authorization request must be sent again, identical. When it was omitted
// there, one sent now must still be the registered callback URL.
func checkCodeRedirect(code *Code, c *Client, redirectURI string) *Error {
	want := code.RedirectURI
	if want == "" && redirectURI != "" {
		want = c.CallbackURL
	}
	if redirectURI != want {
		return ErrInvalidGrant("redirect_uri does not match the one of the authorization request")
	}
	return nil
}

func (s *Server) codeReused(ctx context.Context, family Hash) *Error {
	if !family.IsZero() {
		if err := s.store.RevokeFamily(ctx, family); err != nil {
			return internal(ctx, "revoke tokens of a reused code", err)
		}
	}
	e := ErrInvalidGrant("the authorization code was already used; its tokens have been revoked")
	e.Replay = true
	return e
}
