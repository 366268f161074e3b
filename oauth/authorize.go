package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Response types of RFC 6749 §3.1.1.
const (
	ResponseCode  = "code"
	ResponseToken = "token"
)

// AuthorizeRequest is a parsed authorization request (RFC 6749 §4.1.1,
// §4.2.1) with its PKCE challenge (RFC 7636 §4.3).
type AuthorizeRequest struct {
	ResponseType        string
	ClientID            string
	RedirectURI         string // empty when omitted
	Scope               []string
	State               string
	CodeChallenge       string
	CodeChallengeMethod string
	// DPoPJKT binds the code to a DPoP key's thumbprint (RFC 9449 §10).
	DPoPJKT string
}

// MaxAuthorizeQuery bounds the query of an authorization request, in bytes:
// room for a 2,000-character redirect URI, a long state and many scopes,
// all percent-encoded, and well under what browsers and proxies carry.
// Longer requests are refused before they are parsed.
const MaxAuthorizeQuery = 16 << 10

// CheckAuthorizeQuery refuses an authorization request's query longer than
// MaxAuthorizeQuery. It applies to the query as sent: the consent form
// posts the same parameters back re-encoded, which may be longer.
func CheckAuthorizeQuery(rawQuery string) *Error {
	if len(rawQuery) > MaxAuthorizeQuery {
		return ErrInvalidRequest(fmt.Sprintf("the request's query is longer than %d KiB", MaxAuthorizeQuery>>10))
	}
	return nil
}

// authorizeParams may each appear once (RFC 6749 §3.1).
var authorizeParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state",
	"code_challenge", "code_challenge_method", "dpop_jkt"}

// ParseAuthorizeRequest parses the query of an authorization request, or the
// same parameters posted back by the consent form.
func ParseAuthorizeRequest(rawQuery string) (*AuthorizeRequest, *Error) {
	form, oerr := ParseForm(rawQuery, authorizeParams)
	if oerr != nil {
		return nil, oerr
	}
	scope, oerr := parseScopeParam(form["scope"])
	if oerr != nil {
		return nil, oerr
	}
	return &AuthorizeRequest{
		ResponseType:        form["response_type"],
		ClientID:            form["client_id"],
		RedirectURI:         form["redirect_uri"],
		Scope:               scope,
		State:               form["state"],
		CodeChallenge:       form["code_challenge"],
		CodeChallengeMethod: form["code_challenge_method"],
		DPoPJKT:             form["dpop_jkt"],
	}, nil
}

// Values returns the request's parameters, to carry them through the login
// and consent pages.
func (r *AuthorizeRequest) Values() url.Values {
	v := url.Values{}
	add := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	add("response_type", r.ResponseType)
	add("client_id", r.ClientID)
	add("redirect_uri", r.RedirectURI)
	add("scope", strings.Join(r.Scope, " "))
	add("state", r.State)
	add("code_challenge", r.CodeChallenge)
	add("code_challenge_method", r.CodeChallengeMethod)
	add("dpop_jkt", r.DPoPJKT)
	return v
}

// Authorization is an authorization request whose client and redirect URI
// are known good: from here on errors go back to the client by redirect.
type Authorization struct {
	Request     AuthorizeRequest
	Client      *Client
	RedirectURI string // where answers go: the request's or the registered callback URL
	// Issuer is this server's issuer identifier (its metadata's issuer);
	// when set, every answer carries it as iss, so that a client talking
	// to several servers can tell which one answered (RFC 9207, RFC 9700
	// §4.4 mix-up attacks).
	Issuer          string
	challengeMethod string
}

// CheckAuthorize validates an authorization request (RFC 6749 §4.1.2.1).
// With a nil Authorization the error must be shown to the user and never
// redirected (unknown client, missing or mismatched redirect_uri); with both
// results set the error goes back to the client with a.ErrorURL.
func (s *Server) CheckAuthorize(ctx context.Context, r *AuthorizeRequest) (*Authorization, *Error) {
	if r.ClientID == "" {
		return nil, ErrInvalidRequest("the client_id parameter is missing")
	}
	c, err := s.store.ClientByKey(ctx, r.ClientID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidClient("no application has the consumer key " + strconv.Quote(r.ClientID))
	}
	if err != nil {
		return nil, internal(ctx, "load client", err)
	}
	if c.CallbackURL == "" {
		return nil, ErrInvalidRequest("the application " + strconv.Quote(c.AppName) + " has no callback URL registered for this key")
	}
	if r.RedirectURI != "" && r.RedirectURI != c.CallbackURL {
		return nil, ErrInvalidRequest("the redirect_uri does not match the callback URL registered for this key")
	}
	a := &Authorization{Request: *r, Client: c, RedirectURI: c.CallbackURL}
	var grant string
	switch r.ResponseType {
	case ResponseCode:
		grant = GrantAuthorizationCode
	case ResponseToken:
		if s.strict {
			return a, ErrUnsupportedResponseType("the implicit grant (response_type=token) is switched off on this server; use response_type=code with PKCE")
		}
		grant = GrantImplicit
	case "":
		return a, ErrInvalidRequest("response_type is missing")
	default:
		return a, ErrUnsupportedResponseType("response_type must be code or token")
	}
	if !c.Allows(grant) {
		return a, ErrUnauthorizedClient("this consumer key may not use the " + grant + " grant")
	}
	if grant == GrantAuthorizationCode {
		method, oerr := checkChallenge(r.CodeChallenge, r.CodeChallengeMethod)
		if oerr != nil {
			return a, oerr
		}
		if s.strict && method != PKCES256 {
			return a, ErrInvalidRequest("this server requires PKCE with code_challenge_method=S256")
		}
		a.challengeMethod = method
		if r.DPoPJKT != "" && !jktPattern.MatchString(r.DPoPJKT) {
			return a, ErrInvalidRequest("dpop_jkt must be a SHA-256 JWK thumbprint, base64url without padding (43 characters)")
		}
	}
	return a, nil
}

// checkTenant refuses a user of another tenant than the client's: an
// application serves its own tenant's users only.
func checkTenant(a *Authorization, u *User) *Error {
	if !sameTenant(u.Tenant, a.Client.Tenant) {
		return ErrAccessDenied("the user belongs to another tenant than the application")
	}
	return nil
}

// ConsentScopes returns the scopes the user would grant, with their
// descriptions, for the consent page; "default" when none of the requested
// scopes can be granted, as at the token endpoint.
func (s *Server) ConsentScopes(ctx context.Context, a *Authorization, u *User) ([]Scope, *Error) {
	if oerr := checkTenant(a, u); oerr != nil {
		return nil, oerr
	}
	names, oerr := s.grantableScopes(ctx, a.Client.Tenant, a.Request.Scope, u.Roles)
	if oerr != nil {
		return nil, oerr
	}
	registered, err := s.store.ScopesByName(ctx, a.Client.Tenant, names)
	if err != nil {
		return nil, internal(ctx, "load scopes", err)
	}
	byName := scopesByName(registered)
	out := make([]Scope, 0, len(names))
	for _, n := range names {
		sc, ok := byName[n]
		switch {
		case ok:
		case n == DefaultScope:
			sc = Scope{Name: n, Description: "Basic access, without any named permission"}
		default:
			sc = Scope{Name: n}
		}
		out = append(out, sc)
	}
	return out, nil
}

// Approve answers an approved request (RFC 6749 §4.1.2, §4.2.2): the URL to
// send the user to, with a code in the query or a token in the fragment.
// Scopes are worked out again from the user's roles, never taken from a form.
func (s *Server) Approve(ctx context.Context, a *Authorization, u *User) (string, *Error) {
	if oerr := checkTenant(a, u); oerr != nil {
		return "", oerr
	}
	scopes, oerr := s.grantableScopes(ctx, a.Client.Tenant, a.Request.Scope, u.Roles)
	if oerr != nil {
		return "", oerr
	}
	if a.Request.ResponseType == ResponseToken {
		resp, oerr := s.issue(WithIssuer(ctx, a.Issuer), a.Client, u.ID, s.partitionOf(u.Username), scopes, GrantImplicit, Hash{}, Hash{})
		if oerr != nil {
			return "", oerr
		}
		v := url.Values{"access_token": {resp.AccessToken}, "token_type": {resp.TokenType}, "scope": {resp.Scope}}
		if resp.ExpiresIn > 0 {
			v.Set("expires_in", strconv.FormatInt(resp.ExpiresIn, 10))
		}
		return a.answerURL(v), nil
	}
	code, oerr := s.newCode(ctx, a, u.ID, s.partitionOf(u.Username), scopes)
	if oerr != nil {
		return "", oerr
	}
	return a.answerURL(url.Values{"code": {code}}), nil
}

// ErrorURL sends an error back to the client (RFC 6749 §4.1.2.1, §4.2.2.1).
func (a *Authorization) ErrorURL(e *Error) string {
	v := url.Values{"error": {e.Code}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	return a.answerURL(v)
}

// answerURL adds the state to v and puts it in the redirect URI's fragment
// for the implicit grant, in its query otherwise, keeping any query the
// registered URI has (RFC 6749 §3.1.2).
func (a *Authorization) answerURL(v url.Values) string {
	if a.Request.State != "" {
		v.Set("state", a.Request.State)
	}
	if a.Issuer != "" {
		v.Set("iss", a.Issuer)
	}
	if a.Request.ResponseType == ResponseToken {
		return a.RedirectURI + "#" + v.Encode()
	}
	sep := "?"
	if strings.Contains(a.RedirectURI, "?") {
		sep = "&"
	}
	return a.RedirectURI + sep + v.Encode()
}
