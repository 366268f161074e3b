package handlers

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/pages/consent"
	"github.com/labstack/echo/v4"
)

// Authorize is the authorization endpoint, GET /authorize (RFC 6749 §3.1).
// A request that cannot go back to the client (unknown client, wrong
// redirect_uri) shows an error page. Anything else, an error included, is
// answered only to a logged-in user: an anonymous one logs in first and
// comes back here (RFC 9700 §4.11.2: anyone can register an application
// with a callback URL of their choice, and an error sent there at once
// would make this server an open redirector). Errors then go back by
// redirect; otherwise the consent page asks, unless a remembered approval
// covers the request.
func (h *Handlers) Authorize(c echo.Context) error {
	ctx := c.Request().Context()
	if oerr := oauth.CheckAuthorizeQuery(c.Request().URL.RawQuery); oerr != nil {
		return authorizeErrorPage(oerr)
	}
	a, redirect, err := h.checkAuthorize(c, c.Request().URL.RawQuery)
	if a == nil {
		return err
	}
	u := h.CurrentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, h.loginURL(c))
	}
	if redirect != "" {
		return h.authorizeAnswer(c, redirect, nil)
	}
	scopes, oerr := h.oauth.ConsentScopes(ctx, a, &u.User)
	if oerr != nil {
		return h.authorizeAnswer(c, a.ErrorURL(oerr), nil)
	}
	covered, err := h.rememberedCovers(ctx, u.ID, a.Client.AppID, scopes)
	if err != nil {
		return err
	}
	if covered {
		// No page to answer: a remembered approval answers the request
		// again, as it answers any other.
		return h.approve(c, a, u)
	}
	if h.answered(c, &a.Request) {
		return errConsentAnswered
	}
	view := consent.View{AppName: a.Client.AppName, Owner: a.Client.Owner, Username: u.Username,
		Implicit: a.Request.ResponseType == oauth.ResponseToken}
	for _, s := range scopes {
		view.Scopes = append(view.Scopes, consent.Scope{Name: s.Name, Description: s.Description})
	}
	for name, values := range a.Request.Values() {
		view.Fields = append(view.Fields, consent.Field{Name: name, Value: values[0]})
	}
	slices.SortFunc(view.Fields, func(x, y consent.Field) int { return strings.Compare(x.Name, y.Name) })
	id, err := h.newConsentForm(c)
	if err != nil {
		return err
	}
	view.Fields = append(view.Fields, consent.Field{Name: consentIDField, Value: id})
	return render(c, http.StatusOK, consent.Form(h.page(c, "Authorize "+a.Client.AppName, ""), view))
}

// Decide takes the consent form, POST /authorize (CSRF-checked by route
// middleware), once (see answerConsentForm): Approve sends a code or token
// back, Deny sends access_denied (RFC 6749 §4.1.2.1). The request is checked again from the posted fields;
// the scopes come from the user's roles, never from the form.
func (h *Handlers) Decide(c echo.Context) error {
	u := h.CurrentUser(c)
	if u == nil {
		return echo.NewHTTPError(http.StatusForbidden, "Your session has ended. Go back to the application and start again.")
	}
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read. Go back to the application and start again.")
	}
	a, redirect, err := h.checkAuthorize(c, form.Encode())
	if a == nil || redirect != "" {
		return h.authorizeAnswer(c, redirect, err)
	}
	if ok, err := h.answerConsentForm(c, form.Get(consentIDField), &a.Request); err != nil {
		return err
	} else if !ok {
		return errConsentAnswered
	}
	if form.Get("decision") != "approve" {
		return h.authorizeAnswer(c, a.ErrorURL(oauth.ErrAccessDenied("the user denied the request")), nil)
	}
	ctx := c.Request().Context()
	scopes, oerr := h.oauth.ConsentScopes(ctx, a, &u.User)
	if oerr != nil {
		return h.authorizeAnswer(c, a.ErrorURL(oerr), nil)
	}
	err = h.store.SaveConsent(ctx, &portal.Consent{UserID: u.ID, AppID: a.Client.AppID, Scopes: scopeNames(scopes),
		Remember: form.Get("remember") == "on", ApprovedAt: h.now()})
	if err != nil {
		return err
	}
	h.audit(c, portal.AuditConsentGranted, u.Username, a.Client.ConsumerKey, strings.Join(scopeNames(scopes), " "))
	return h.approve(c, a, u)
}

// checkAuthorize parses and checks an authorization request. It returns the
// checked request, or where to send its error back to, or (with a nil
// Authorization) the error page to show instead.
func (h *Handlers) checkAuthorize(c echo.Context, rawQuery string) (*oauth.Authorization, string, error) {
	r, oerr := oauth.ParseAuthorizeRequest(rawQuery)
	if oerr != nil {
		return nil, "", authorizeErrorPage(oerr)
	}
	a, oerr := h.oauth.CheckAuthorize(c.Request().Context(), r)
	if a != nil {
		a.Issuer = listenerURL(c)
	}
	switch {
	case oerr == nil:
		return a, "", nil
	case a == nil:
		return nil, "", authorizeErrorPage(oerr)
	default:
		return a, a.ErrorURL(oerr), nil
	}
}

// authorizeErrorPage is the page for a request that must not be redirected:
// the description is apistore's own sentence about the request.
func authorizeErrorPage(e *oauth.Error) error {
	if e.Code == oauth.ErrCodeServerError {
		return echo.NewHTTPError(http.StatusInternalServerError)
	}
	return echo.NewHTTPError(http.StatusBadRequest, "This authorization request cannot be handled: "+sentence(e.Description))
}

// authorizeAnswer redirects back to the client, or returns err for the
// error page when there is nowhere to redirect.
func (h *Handlers) authorizeAnswer(c echo.Context, redirect string, err error) error {
	if redirect == "" {
		return err
	}
	noStore(c)
	return c.Redirect(http.StatusFound, redirect)
}

// approve issues the code or token for a consented request.
func (h *Handlers) approve(c echo.Context, a *oauth.Authorization, u *portal.User) error {
	to, oerr := h.oauth.Approve(c.Request().Context(), a, &u.User)
	if oerr != nil {
		to = a.ErrorURL(oerr)
	}
	return h.authorizeAnswer(c, to, nil)
}

// rememberedCovers reports whether the user asked to remember an approval
// of the application covering every one of the scopes; "default", which
// grants nothing in particular, is always covered.
func (h *Handlers) rememberedCovers(ctx context.Context, userID, appID int64, scopes []oauth.Scope) (bool, error) {
	remembered, err := h.store.RememberedScopes(ctx, userID, appID)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	covered := make(map[string]bool, len(remembered))
	for _, name := range remembered {
		covered[name] = true
	}
	for _, s := range scopes {
		if s.Name != oauth.DefaultScope && !covered[s.Name] {
			return false, nil
		}
	}
	return true, nil
}

func scopeNames(scopes []oauth.Scope) []string {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = s.Name
	}
	return names
}

// ToStore sends store links followed on the token port (the consent page's
// header and log-out form) to the store's own port; 307 keeps a POST a POST.
func (h *Handlers) ToStore(c echo.Context) error {
	store := h.storeURL()
	if store == "" {
		return echo.ErrNotFound
	}
	return c.Redirect(http.StatusTemporaryRedirect, store+c.Request().URL.RequestURI())
}
