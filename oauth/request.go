package oauth

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxFormBytes caps a form body; larger requests are refused before parsing.
const MaxFormBytes = 64 << 10

// TokenRequest is a parsed access token request (RFC 6749 §4.1.3, §4.3.2,
// §4.4.2, §6) with its client credentials.
type TokenRequest struct {
	GrantType    string
	ClientID     string
	ClientSecret string
	Username     string
	Password     string
	Scope        []string // nil when no scope was sent
	RefreshToken string
	Code         string
	RedirectURI  string
	CodeVerifier string
	// ClientCerts is the certificate chain the client presented in the TLS
	// handshake, leaf first (RFC 8705): it authenticates a key registered
	// for it, and binds the tokens issued. Not a form parameter; the
	// caller sets it.
	ClientCerts []*x509.Certificate
	// Source is who sent the request (the client's address): the password
	// grant's hashing is shared fairly between sources (see
	// CheckPasswordFor). Not a form parameter; the caller sets it.
	Source string
	// DPoP is the request's DPoP proof with its method and URL (RFC 9449
	// §5); nil or empty for none. Not a form parameter; the caller sets it.
	DPoP *DPoPRequest
}

// tokenParams are the parameters a token request may carry once at most
// (RFC 6749 §3.2: "MUST NOT be included more than once").
var tokenParams = []string{"grant_type", "client_id", "client_secret", "username", "password",
	"scope", "refresh_token", "code", "redirect_uri", "code_verifier"}

// ParseForm parses an application/x-www-form-urlencoded body. Unlike
// net/url it accepts ';' inside values (curl -d sends them unencoded), and it
// refuses invalid percent-escapes, invalid UTF-8 and the listed parameters
// when repeated. Parameters with empty values count as omitted (RFC 6749 §3.1).
func ParseForm(body string, once []string) (map[string]string, *Error) {
	values := make(map[string]string)
	seen := make(map[string]bool)
	for _, pair := range strings.Split(body, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(rawKey)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return nil, ErrInvalidRequest("the form body is not correctly URL-encoded")
		}
		if !utf8.ValidString(key) || !utf8.ValidString(value) {
			return nil, ErrInvalidRequest("the form body is not valid UTF-8")
		}
		if seen[key] && slices.Contains(once, key) {
			return nil, ErrInvalidRequest("parameter " + key + " is repeated")
		}
		seen[key] = true
		if value != "" {
			values[key] = value
		}
	}
	return values, nil
}

// CheckFormContentType accepts application/x-www-form-urlencoded with any
// parameters (e.g. ";charset=UTF-8").
func CheckFormContentType(contentType string) *Error {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/x-www-form-urlencoded" {
		return ErrInvalidRequest("the request body must be application/x-www-form-urlencoded")
	}
	return nil
}

// parsePostForm checks the Content-Type of a form POST and parses its body.
func parsePostForm(contentType, body string, once []string) (map[string]string, *Error) {
	if err := CheckFormContentType(contentType); err != nil {
		return nil, err
	}
	return ParseForm(body, once)
}

// ParseTokenRequest parses the body, Content-Type and Authorization header of
// a POST to the token endpoint.
func ParseTokenRequest(contentType, authorization, body string) (*TokenRequest, *Error) {
	form, oerr := parsePostForm(contentType, body, tokenParams)
	if oerr != nil {
		return nil, oerr
	}
	r := &TokenRequest{
		GrantType:    form["grant_type"],
		ClientID:     form["client_id"],
		ClientSecret: form["client_secret"],
		Username:     form["username"],
		Password:     form["password"],
		RefreshToken: form["refresh_token"],
		Code:         form["code"],
		RedirectURI:  form["redirect_uri"],
		CodeVerifier: form["code_verifier"],
	}
	if s, ok := form["scope"]; ok {
		if r.Scope, oerr = parseScopeParam(s); oerr != nil {
			return nil, oerr
		}
	}
	if r.ClientID, r.ClientSecret, oerr = clientCredentials(authorization, r.ClientID, r.ClientSecret); oerr != nil {
		return nil, oerr
	}
	if r.GrantType == "" {
		return nil, ErrInvalidRequest("grant_type is missing")
	}
	return r, nil
}

// clientCredentials merges the Authorization header (RFC 6749 §2.3.1) with
// the client_id and client_secret of the body. Credentials in the header and
// a secret in the body at once are refused.
func clientCredentials(authorization, bodyID, bodySecret string) (id, secret string, oerr *Error) {
	if strings.TrimSpace(authorization) == "" {
		return bodyID, bodySecret, nil
	}
	id, secret, ok := ParseBasicAuth(authorization)
	if !ok {
		return "", "", ErrInvalidClient("the Authorization header is not valid Basic client authentication")
	}
	if bodySecret != "" || (bodyID != "" && bodyID != id) {
		return "", "", ErrInvalidRequest("client credentials were sent both in the Authorization header and in the body")
	}
	return id, secret, nil
}

// ParseBasicAuth parses "Basic base64(client_id:client_secret)" (RFC 6749
// §2.3.1, RFC 7617). It is lenient where the WSO2 docs are: anything after
// the credentials, such as ", Content-Type: …" when two headers were written
// as one, is ignored, and missing base64 padding is accepted.
func ParseBasicAuth(header string) (id, secret string, ok bool) {
	scheme, rest, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	rest = strings.TrimSpace(rest)
	if end := strings.IndexAny(rest, ", \t"); end >= 0 {
		rest = rest[:end]
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(rest, "=")); err != nil {
			return "", "", false
		}
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", false
	}
	if id == "" || !utf8.ValidString(id) || !utf8.ValidString(secret) {
		return "", "", false
	}
	return id, secret, true
}

// MaxScopes is how many scope names one request may carry, repeats
// included: far more than any application asks for, and few enough that
// looking them up stays cheap. More is refused before any of them is.
const MaxScopes = 200

// parseScopeParam parses a request's scope parameter, refusing one that
// names more than MaxScopes scopes (counted before anything is allocated).
func parseScopeParam(s string) ([]string, *Error) {
	n := 0
	for range strings.FieldsSeq(s) {
		if n++; n > MaxScopes {
			return nil, ErrInvalidRequest(fmt.Sprintf("the scope parameter names more than %d scopes; ask for at most %d scopes", MaxScopes, MaxScopes))
		}
	}
	return ParseScope(s), nil
}

// smallScopeSet is how many distinct scopes ParseScope compares one by
// one before it keeps them in a map: cheaper for the usual handful, and
// linear however many there are.
const smallScopeSet = 8

// ParseScope splits a space-separated scope string (RFC 6749 §3.3), dropping
// empty and repeated entries and keeping the order. Its cost is linear in
// the length of s.
func ParseScope(s string) []string {
	var out []string
	var seen map[string]bool
	for f := range strings.FieldsSeq(s) {
		switch {
		case seen == nil && len(out) < smallScopeSet:
			if slices.Contains(out, f) {
				continue
			}
		case seen == nil:
			seen = make(map[string]bool, 2*smallScopeSet)
			for _, o := range out {
				seen[o] = true
			}
			fallthrough
		default:
			if seen[f] {
				continue
			}
			seen[f] = true
		}
		out = append(out, f)
	}
	return out
}
