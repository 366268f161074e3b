package handlers

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// A store form sent by someone no longer logged in (logged out in another
// tab, or the session ended) is not thrown away: the log-in page comes
// instead, carrying what was typed (never a password or secret), and once
// logged in the user sends it again with a button.
const (
	keptPrefix      = "kept."       // a kept field's name in the log-in form
	keptActionField = "kept_action" // where the kept form goes
)

// keptFormPage answers a store form whose token does not match because its
// sender is no longer logged in: the log-in page, status 403, with the
// form's fields. It reports false for a request it does not take (not a
// form of a logged-in page of this store, or not sent from this site,
// which a forged form is not), to be refused as forged.
func (h *Handlers) keptFormPage(c echo.Context) (bool, error) {
	req := c.Request()
	path := req.URL.Path
	if h.CurrentUser(c) != nil || !keptAction(path) || !sameOrigin(req) {
		return false, nil
	}
	form, err := c.FormParams()
	if err != nil {
		return false, nil
	}
	view := store.LoginView{KeptAction: path, Kept: keptFields(form, ""),
		Error: "You are no longer logged in (you logged out in another tab, or the session ended). Log in again to send your form: what you typed is kept."}
	return true, render(c, http.StatusForbidden, store.Login(h.page(c, "Log in", ""), view))
}

// keptAction reports whether a form posted to path may be kept: a form of
// the store's logged-in pages, not one of the log-in, sign-up, password
// reset and log-out forms.
func keptAction(path string) bool {
	if !strings.HasPrefix(path, "/store/") || strings.Contains(path, "//") {
		return false
	}
	return !slices.Contains([]string{loginPath, "/store/signup", "/store/password/forgot", "/store/password/reset", LogOutPath}, path)
}

// sameOrigin reports whether a browser says the request comes from a page
// of this site (Sec-Fetch-Site, or else Origin).
func sameOrigin(req *http.Request) bool {
	if site := req.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	o, err := url.Parse(req.Header.Get("Origin"))
	return err == nil && o.Host != "" && o.Host == req.Host
}

// keptFields are a form's fields that may be kept, their names without
// prefix: never the form token, a password or a secret.
func keptFields(form url.Values, prefix string) []store.KeptField {
	var out []store.KeptField
	for name, values := range form {
		name, ok := strings.CutPrefix(name, prefix)
		lower := strings.ToLower(name)
		if !ok || name == "" || name == csrfField || name == keptActionField || strings.HasPrefix(name, keptPrefix) ||
			strings.Contains(lower, "password") || strings.Contains(lower, "secret") {
			continue
		}
		for _, v := range values {
			out = append(out, store.KeptField{Name: name, Value: v})
		}
	}
	slices.SortStableFunc(out, func(a, b store.KeptField) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// resendPage is what a log-in that carried a kept form answers: the form
// again, to send with a button now that the user is logged in.
func (h *Handlers) resendPage(c echo.Context, action string, form url.Values) error {
	v := store.ResendView{Action: tenantPath(c, action), Fields: keptFields(form, keptPrefix)}
	return render(c, http.StatusOK, store.Resend(h.page(c, "Send your form again", ""), v))
}
