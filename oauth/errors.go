// Package oauth is apistore's OAuth 2.0 protocol core: grants, tokens,
// scopes, validity and errors. It knows nothing of HTTP frameworks, HTML or
// SQL; it reaches storage through the interfaces in store.go.
package oauth

import (
	"errors"
	"net/http"
)

// Error codes of RFC 6749 §5.2 and §4.1.2.1.
const (
	ErrCodeInvalidRequest       = "invalid_request"
	ErrCodeInvalidClient        = "invalid_client"
	ErrCodeInvalidGrant         = "invalid_grant"
	ErrCodeUnauthorizedClient   = "unauthorized_client"
	ErrCodeUnsupportedGrantType = "unsupported_grant_type"
	ErrCodeInvalidScope         = "invalid_scope"
	ErrCodeServerError          = "server_error"
	ErrCodeAccessDenied         = "access_denied"
	ErrCodeUnsupportedResponse  = "unsupported_response_type"
	// ErrCodeTemporarilyUnavailable (RFC 6749 §4.1.2.1) is also what the
	// token, revocation and introspection endpoints answer, with 429, to a
	// client, user or address that failed to authenticate too often.
	ErrCodeTemporarilyUnavailable = "temporarily_unavailable"
)

// Error is an OAuth error response (RFC 6749 §5.2): a code, a human-readable
// description and the HTTP status it is sent with.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Status      int    `json:"-"`
	// Replay marks the invalid_grant of a one-time grant (refresh token,
	// authorization code) presented again: a sign that it leaked, worth
	// an entry in the audit trail (RFC 9700 §4.14.2, §4.5).
	Replay bool `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func newError(code string, status int, description string) *Error {
	return &Error{Code: code, Description: description, Status: status}
}

// ErrInvalidRequest is a malformed request: missing, repeated or invalid
// parameters (RFC 6749 §5.2).
func ErrInvalidRequest(description string) *Error {
	return newError(ErrCodeInvalidRequest, http.StatusBadRequest, description)
}

// ErrInvalidClient is a failed client authentication; it is sent with 401
// and a WWW-Authenticate challenge (RFC 6749 §5.2).
func ErrInvalidClient(description string) *Error {
	return newError(ErrCodeInvalidClient, http.StatusUnauthorized, description)
}

// ErrInvalidGrant is an invalid, expired, revoked or used grant (RFC 6749 §5.2).
func ErrInvalidGrant(description string) *Error {
	return newError(ErrCodeInvalidGrant, http.StatusBadRequest, description)
}

// ErrInvalidScope is a requested scope that is invalid, unknown or wider
// than granted (RFC 6749 §5.2; a refresh's scope, §6).
func ErrInvalidScope(description string) *Error {
	return newError(ErrCodeInvalidScope, http.StatusBadRequest, description)
}

// ErrUnauthorizedClient means the client may not use this grant type.
func ErrUnauthorizedClient(description string) *Error {
	return newError(ErrCodeUnauthorizedClient, http.StatusBadRequest, description)
}

// ErrUnsupportedGrantType means the server does not know the grant type.
func ErrUnsupportedGrantType(description string) *Error {
	return newError(ErrCodeUnsupportedGrantType, http.StatusBadRequest, description)
}

// ErrBusy is an overload: too many password checks wait already (503,
// temporarily_unavailable; retry shortly).
func ErrBusy() *Error {
	return newError(ErrCodeTemporarilyUnavailable, http.StatusServiceUnavailable,
		"the server is busy checking passwords; retry in a moment")
}

// ErrAccessDenied means the resource owner denied the request (RFC 6749 §4.1.2.1).
func ErrAccessDenied(description string) *Error {
	return newError(ErrCodeAccessDenied, http.StatusForbidden, description)
}

// ErrUnsupportedResponseType means the server does not know the response
// type (RFC 6749 §4.1.2.1).
func ErrUnsupportedResponseType(description string) *Error {
	return newError(ErrCodeUnsupportedResponse, http.StatusBadRequest, description)
}

// ErrServer is an internal failure; its description never carries details.
func ErrServer() *Error {
	return newError(ErrCodeServerError, http.StatusInternalServerError, "the server could not complete the request")
}

// ErrUnavailable is wrapped by a store that cannot do a write for now and
// may in a moment: a PostgreSQL node holds its token writes while it finds
// out whether another node changed the token partitioning.
var ErrUnavailable = errors.New("the store cannot do this for now")

// ErrStoreUnavailable answers a request whose store said ErrUnavailable:
// server_error with 503, as the condition passes.
func ErrStoreUnavailable() *Error {
	return newError(ErrCodeServerError, http.StatusServiceUnavailable,
		"the server cannot complete the request right now; retry in a moment")
}

// ErrNotFound is returned (wrapped) by stores when a row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned (wrapped) by stores when a unique value is taken.
var ErrConflict = errors.New("already exists")
