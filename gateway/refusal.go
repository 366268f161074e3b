package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/apistore/apistore/oauth"
)

// WSO2 API Manager's numeric error codes, which clients written for its
// gateway look for.
const (
	CodeInvalidCredentials = 900901 // unknown, expired or revoked token
	CodeMissingCredentials = 900902 // no token
	CodeNoMatchingResource = 900906 // no API or resource for the request
	CodeForbidden          = 900908 // the application is not subscribed
	CodeInsufficientScope  = 900910 // the resource needs a scope the token lacks
	CodeThrottled          = 900800 // over the subscription tier's limit
	CodeBackendUnreachable = 101503 // the backend refused or dropped the connection
	CodeBackendTimeout     = 101504 // the backend did not answer in time
	CodeRequestTimeout     = 101001 // the caller's request stalled (Synapse's "receiver I/O error receiving")
	CodeInternal           = 900900 // the gateway itself failed
)

// Refusal is a request the gateway answers itself, with WSO2's JSON fault
// and, for token problems, an RFC 6750 §3 challenge.
type Refusal struct {
	Status      int
	Code        int
	Message     string
	Description string
	// BearerError is the RFC 6750 §3.1 error code of the challenge
	// (invalid_token, insufficient_scope); empty for none.
	BearerError string
	// Scope is the scope the resource needs, for insufficient_scope.
	Scope string
	// challenge adds a WWW-Authenticate: Bearer header even without an error
	// code (RFC 6750 §3: a request with no token gets a bare challenge).
	challenge bool
	// dpop makes the challenge a DPoP one (RFC 9449 §7.1), naming the
	// accepted proof algorithms.
	dpop bool
}

// realm names the protection space of the challenges.
const realm = "apistore"

// dpopAlgs are the DPoP proof algorithms, for DPoP challenges.
var dpopAlgs = strings.Join(oauth.DPoPAlgorithmNames(), " ")

func (f *Refusal) write(w http.ResponseWriter) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.fault = f.Code          // for the usage record
		f.dpop = f.dpop || rec.dpop // RFC 9449 §7.1: a bound token's challenges are DPoP's
	}
	h := w.Header()
	if f.challenge || f.BearerError != "" {
		h.Set("WWW-Authenticate", f.bearerChallenge())
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	corsRefusal(h) // CORS hook (cors.go): a browser app may read the fault
	w.WriteHeader(f.Status)
	_ = json.NewEncoder(w).Encode(faultBody{fault{f.Code, f.Message, f.Description}})
}

// faultBody is WSO2's JSON error body: {"fault":{"code":…,"message":…,"description":…}}.
type faultBody struct {
	Fault fault `json:"fault"`
}

type fault struct {
	Code        int    `json:"code"`
	Message     string `json:"message"`
	Description string `json:"description"`
}

// bearerChallenge is the WWW-Authenticate value of RFC 6750 §3.
func (f *Refusal) bearerChallenge() string {
	var b strings.Builder
	if f.dpop {
		b.WriteString(`DPoP algs="` + dpopAlgs + `"`)
	} else {
		b.WriteString(`Bearer realm="` + realm + `"`)
	}
	if f.BearerError != "" {
		b.WriteString(`, error="` + f.BearerError + `", error_description=` + strconv.Quote(f.Description))
	}
	if f.Scope != "" {
		b.WriteString(`, scope="` + f.Scope + `"`)
	}
	return b.String()
}

func missingToken() *Refusal {
	return &Refusal{Status: http.StatusUnauthorized, Code: CodeMissingCredentials, Message: "Missing Credentials",
		Description: "Make sure your API invocation call has a header: \"Authorization: Bearer ACCESS_TOKEN\"", challenge: true}
}

func invalidToken(why string) *Refusal {
	return &Refusal{Status: http.StatusUnauthorized, Code: CodeInvalidCredentials, Message: "Invalid Credentials",
		Description: why, BearerError: "invalid_token"}
}

func notSubscribed() *Refusal {
	return &Refusal{Status: http.StatusForbidden, Code: CodeForbidden, Message: "Resource forbidden",
		Description: "the access token's application is not subscribed to this API", challenge: true}
}

func noEndpoint(kt string) *Refusal {
	return &Refusal{Status: http.StatusForbidden, Code: CodeForbidden, Message: "Resource forbidden",
		Description: "this API has no " + kt + " endpoint: call it with the other key type's token", challenge: true}
}

func insufficientScope(scope string) *Refusal {
	return &Refusal{Status: http.StatusForbidden, Code: CodeInsufficientScope, Message: "The access token does not allow you to access the requested resource",
		Description: "the resource needs the scope " + scope, BearerError: "insufficient_scope", Scope: scope}
}

// notFound is a request for no published API, or for no resource of one.
func notFound(description string) *Refusal {
	return &Refusal{Status: http.StatusNotFound, Code: CodeNoMatchingResource, Message: "No matching resource found",
		Description: description}
}

// notCanonical refuses a path that a backend could read as another one
// than the gateway matches (see pathProblem).
func notCanonical(problem string) *Refusal {
	return &Refusal{Status: http.StatusBadRequest, Code: CodeNoMatchingResource, Message: "Path not canonical",
		Description: "the path is not in canonical form: " + problem + "; call the resource by its canonical path"}
}

// methodOverridden refuses a call that names another method than its own
// (see methodOverride).
func methodOverridden(problem string) *Refusal {
	return &Refusal{Status: http.StatusBadRequest, Code: CodeNoMatchingResource, Message: "Method override refused",
		Description: "the request's method is not clear: " + problem}
}

// pathTooLong refuses a path over maxPathBytes.
func pathTooLong() *Refusal {
	return &Refusal{Status: http.StatusRequestURITooLong, Code: CodeNoMatchingResource, Message: "URI too long",
		Description: "the path is longer than " + strconv.Itoa(maxPathBytes>>10) + " KiB"}
}

func methodNotAllowed(method string) *Refusal {
	return &Refusal{Status: http.StatusMethodNotAllowed, Code: CodeNoMatchingResource, Message: "Method not allowed",
		Description: "the API's resource does not accept " + method}
}

func throttled() *Refusal {
	return &Refusal{Status: http.StatusTooManyRequests, Code: CodeThrottled, Message: "Message throttled out",
		Description: "you have exceeded your quota for this API: see Retry-After"}
}

func requestTimeout() *Refusal {
	return &Refusal{Status: http.StatusRequestTimeout, Code: CodeRequestTimeout, Message: "Request timeout",
		Description: "the request body paused for longer than the gateway waits; send it again"}
}

func internalError() *Refusal {
	return &Refusal{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "Internal error",
		Description: "the gateway could not process the request"}
}
