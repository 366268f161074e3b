package handlers

import (
	"net/http"
	"slices"
	"strings"

	"github.com/apistore/apistore/oauth"
	"github.com/labstack/echo/v4"
)

// A consent form is answered once. Each consent page carries a form id
// kept in the session until the form is answered, so the browser's Back
// after Approve, and approving again, issue no second code and no second
// audit entry. (The same request, asked again, is a new question: a client
// may well send the same state twice in one session.)
const (
	consentFormsKey = "consent_forms" // session: ids of the forms shown and not yet answered
	consentIDField  = "consent_id"    // the form's field carrying its id
	consentKept     = 8               // how many the session keeps, the newest
)

// errConsentAnswered is the answer to a consent form the user has answered
// already.
var errConsentAnswered = echo.NewHTTPError(http.StatusConflict,
	"You have answered this request already. Go back to the application, and start again there if you need to.")

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

// answerConsentForm takes the form id posted with a consent form: false
// when it is not one of the session's unanswered forms. Otherwise the form
// counts as answered from now on.
func (h *Handlers) answerConsentForm(c echo.Context, id string) (bool, error) {
	s := h.session(c)
	forms := sessionList(s.Values, consentFormsKey)
	i := slices.Index(forms, id)
	if id == "" || i < 0 {
		return false, nil
	}
	s.Values[consentFormsKey] = strings.Join(slices.Delete(forms, i, i+1), " ")
	return true, h.saveSession(c, s)
}
