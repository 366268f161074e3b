package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"

	"github.com/apistore/apistore/oauth"
	"github.com/labstack/echo/v4"
)

// A consent form is answered once. Each consent page carries a form id
// kept in the session until the form is answered, so the same form posted
// again (a double click, Back to a page the browser kept) issues no second
// code and no second audit entry. And a request with a state that the
// session answered is not asked again: the browser's Back after Approve
// loads the request's address again, and a state is a one-time value of
// one request (RFC 9700 §4.7.1), never a reason for a second code.
const (
	consentFormsKey    = "consent_forms"    // session: ids of the forms shown and not yet answered
	consentAnsweredKey = "consent_answered" // session: hashes of the requests answered
	consentIDField     = "consent_id"       // the form's field carrying its id
	consentKept        = 8                  // how many of each the session keeps, the newest
)

// errConsentAnswered is the answer to a consent form, or a request, the
// user has answered already.
var errConsentAnswered = echo.NewHTTPError(http.StatusConflict,
	"You have answered this request already. Go back to the application, and start again there if you need to.")

// requestKey names an authorization request with a state, as the session
// remembers it once answered; "" for one without a state, which nothing
// tells apart from a new request of the same application.
func requestKey(r *oauth.AuthorizeRequest) string {
	if r.State == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(r.Values().Encode()))
	return hex.EncodeToString(sum[:12])
}

// answered reports whether the session has answered request r.
func (h *Handlers) answered(c echo.Context, r *oauth.AuthorizeRequest) bool {
	k := requestKey(r)
	return k != "" && slices.Contains(sessionList(h.session(c).Values, consentAnsweredKey), k)
}

// sessionList reads a space-separated list the session keeps under key.
func sessionList(values map[any]any, key string) []string {
	s, _ := values[key].(string)
	return strings.Fields(s)
}

// pushSessionList adds v to the list under key, keeping the newest
// consentKept.
func pushSessionList(values map[any]any, key, v string) {
	list := append(sessionList(values, key), v)
	values[key] = strings.Join(list[max(len(list)-consentKept, 0):], " ")
}

// newConsentForm gives a consent page its form id, kept in the session
// until the form is answered.
func (h *Handlers) newConsentForm(c echo.Context) (string, error) {
	s := h.session(c)
	id := oauth.NewSecret()
	pushSessionList(s.Values, consentFormsKey, id)
	return id, h.saveSession(c, s)
}

// answerConsentForm takes the form id posted with a consent form of
// request r: false when it is not one of the session's unanswered forms.
// Otherwise the form, and its request, count as answered from now on.
func (h *Handlers) answerConsentForm(c echo.Context, id string, r *oauth.AuthorizeRequest) (bool, error) {
	s := h.session(c)
	forms := sessionList(s.Values, consentFormsKey)
	i := slices.Index(forms, id)
	if id == "" || i < 0 {
		return false, nil
	}
	s.Values[consentFormsKey] = strings.Join(slices.Delete(forms, i, i+1), " ")
	if k := requestKey(r); k != "" {
		pushSessionList(s.Values, consentAnsweredKey, k)
	}
	return true, h.saveSession(c, s)
}
