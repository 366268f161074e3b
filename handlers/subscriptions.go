package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// generateForm is a key panel's Generate form.
type generateForm struct {
	Validity    string   `form:"validity" validate:"seconds"`
	GrantTypes  []string `form:"grant_types"`
	CallbackURL string   `form:"callback_url" validate:"callback"`
}

func (f *generateForm) trim() {
	f.Validity, f.CallbackURL = strings.TrimSpace(f.Validity), strings.TrimSpace(f.CallbackURL)
}

// revealed is what a key panel shows once, after the POST that made it, or
// the Generate form sent back with its errors.
type revealed struct {
	keyType oauth.KeyType
	secret  string
	token   *oauth.TokenResponse
	message string
	form    *store.GenerateForm
	// clientAuth is the client authentication forms sent back with their
	// errors (keyType is then empty: no key panel is concerned).
	clientAuth *store.ClientAuthForm
}

// keyTypeInfo is a key type with its URL segment and panel title.
type keyTypeInfo struct {
	t     oauth.KeyType
	slug  string
	title string
}

// keyTypes are the key panels, in order.
var keyTypes = []keyTypeInfo{
	{oauth.Production, "production", "Production"},
	{oauth.Sandbox, "sandbox", "Sandbox"},
}

// findKeyType returns the first key type that matches.
func findKeyType(match func(keyTypeInfo) bool) (keyTypeInfo, bool) {
	if i := slices.IndexFunc(keyTypes, match); i >= 0 {
		return keyTypes[i], true
	}
	return keyTypeInfo{}, false
}

// Subscriptions is My Subscriptions for one application (?app=ID, default
// the first), GET /store/subscriptions.
func (h *Handlers) Subscriptions(c echo.Context) error {
	u := h.CurrentUser(c)
	var app *portal.Application
	if raw := c.QueryParam("app"); raw != "" {
		var err error
		if app, err = h.ownedApplication(c, raw); err != nil {
			return err
		}
	} else {
		apps, err := h.store.ApplicationsByOwner(c.Request().Context(), u.ID)
		if err != nil {
			return err
		}
		if len(apps) > 0 {
			app = &apps[0]
		}
	}
	return h.subscriptionsPage(c, http.StatusOK, app, nil)
}

// subscriptionsPage renders My Subscriptions for app (nil: the user has
// none), with r shown in its panel.
func (h *Handlers) subscriptionsPage(c echo.Context, status int, app *portal.Application, r *revealed) error {
	ctx := c.Request().Context()
	page := h.page(c, "My Subscriptions", layout.NavSubscriptions)
	apps, err := h.store.ApplicationsByOwner(ctx, h.CurrentUser(c).ID)
	if err != nil {
		return err
	}
	v := store.SubscriptionsView{Apps: appOptions(apps)}
	if app == nil {
		return render(c, status, store.Subscriptions(page, v))
	}
	v.App = applicationView(app)
	var authForm *store.ClientAuthForm
	if r != nil {
		authForm = r.clientAuth
	}
	v.ClientAuth = h.clientAuthView(app.TLSAuth, authForm)
	keys, err := h.store.KeysOfApplication(ctx, app.ID)
	if err != nil {
		return err
	}
	for _, kt := range keyTypes {
		panel := store.KeyPanel{Type: kt.slug, Title: kt.title}
		if i := slices.IndexFunc(keys, func(k portal.Key) bool { return k.KeyType == kt.t }); i >= 0 {
			h.describeKey(&panel, &keys[i])
			panel.Auth = describeTLSAuth(app.TLSAuth)
		} else {
			panel.Form = h.defaultGenerateForm(app)
		}
		if r != nil && r.keyType == kt.t {
			h.reveal(&panel, r)
		}
		v.Panels = append(v.Panels, panel)
	}
	subs, err := h.store.SubscriptionsOfApplication(ctx, app.ID)
	if err != nil {
		return err
	}
	v.Subscriptions = subscriptionViews(subs)
	return render(c, status, store.Subscriptions(page, v))
}

// describeKey fills a panel with what is kept of a key.
func (h *Handlers) describeKey(p *store.KeyPanel, k *portal.Key) {
	p.Generated = true
	p.ConsumerKey, p.GrantTypes, p.CallbackURL = k.ConsumerKey, k.GrantTypes, k.CallbackURL
	validity := k.AppTokenValidity
	if validity == 0 {
		validity = h.oauth.Validity().AppToken
	}
	p.Validity = describeValidity(validity)
	p.Form = store.GenerateForm{Validity: strconv.FormatInt(int64(validity/time.Second), 10),
		Grants: h.grantChoices(k.GrantTypes), CallbackURL: k.CallbackURL}
	switch {
	case !k.HasAppToken:
		p.TokenStatus = "none valid: Re-generate issues one"
	case k.AppTokenExpiresAt.IsZero():
		p.TokenStatus = "never expires"
	case !h.now().Before(k.AppTokenExpiresAt):
		p.TokenStatus = "expired " + formatTime(k.AppTokenExpiresAt) + ": Re-generate issues a new one"
	default:
		p.TokenStatus = "expires " + formatTime(k.AppTokenExpiresAt)
	}
}

func describeValidity(d time.Duration) string {
	if d < 0 {
		return "tokens never expire"
	}
	return fmt.Sprintf("%d seconds", int64(d/time.Second))
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// reveal adds to a panel what is shown once.
func (h *Handlers) reveal(p *store.KeyPanel, r *revealed) {
	if r.form != nil {
		p.Form = *r.form
	}
	p.Secret, p.Message = r.secret, r.message
	if r.token != nil {
		p.AccessToken = r.token.AccessToken
		p.TokenExpiry = "never"
		if r.token.ExpiresIn > 0 {
			p.TokenExpiry = fmt.Sprintf("in %d seconds (%s)", r.token.ExpiresIn,
				formatTime(h.now().Add(time.Duration(r.token.ExpiresIn)*time.Second)))
		}
	}
}

// defaultGenerateForm is the Generate form as first shown: the server's
// validity, every grant but implicit, and the application's callback URL.
func (h *Handlers) defaultGenerateForm(app *portal.Application) store.GenerateForm {
	return store.GenerateForm{
		Validity:    strconv.FormatInt(int64(h.oauth.Validity().AppToken/time.Second), 10),
		Grants:      h.grantChoices(oauth.DefaultGrantTypes),
		CallbackURL: app.CallbackURL,
	}
}

// grantChoices are the grant type checkboxes of a key's form: the grant
// types the server offers (fewer with --strict).
func (h *Handlers) grantChoices(checked []string) []store.GrantChoice {
	offered := h.oauth.GrantTypes()
	out := make([]store.GrantChoice, len(offered))
	for i, g := range offered {
		out[i] = store.GrantChoice{Name: g, Checked: slices.Contains(checked, g)}
	}
	return out
}

// allIn reports whether every one of list is in set.
func allIn(list, set []string) bool {
	for _, x := range list {
		if !slices.Contains(set, x) {
			return false
		}
	}
	return true
}

// keyTarget loads the user's application and the key type named in the
// URL (/store/subscriptions/:app/:type/…); anything else is a 404.
func (h *Handlers) keyTarget(c echo.Context) (*portal.Application, oauth.KeyType, error) {
	app, err := h.ownedApplication(c, c.Param("app"))
	if err != nil {
		return nil, "", err
	}
	kt, ok := findKeyType(func(kt keyTypeInfo) bool { return kt.slug == c.Param("type") })
	if !ok {
		return nil, "", echo.ErrNotFound
	}
	return app, kt.t, nil
}

// bindKeyForm reads a Generate or Update form for app's key of type kt.
// When the form has errors it answers with the page showing them, and ok is
// false (err is the rendering's).
func (h *Handlers) bindKeyForm(c echo.Context, app *portal.Application, kt oauth.KeyType) (f generateForm, validity time.Duration, ok bool, err error) {
	errs, err := h.bindForm(c, &f)
	if err != nil {
		return f, 0, false, err
	}
	offered := h.oauth.GrantTypes()
	if gerr := oauth.CheckGrantTypes(f.GrantTypes); gerr != nil || !allIn(f.GrantTypes, offered) {
		if errs == nil {
			errs = map[string]string{}
		}
		errs["grant_types"] = "Allow at least one of the listed grant types."
	}
	if len(errs) > 0 {
		form := &store.GenerateForm{Validity: f.Validity, Grants: h.grantChoices(f.GrantTypes), CallbackURL: f.CallbackURL, Errors: errs}
		return f, 0, false, h.subscriptionsPage(c, http.StatusUnprocessableEntity, app, &revealed{keyType: kt, form: form})
	}
	// Each grant once, in the order the form lists them, however it was posted.
	f.GrantTypes = slices.DeleteFunc(slices.Clone(offered), func(g string) bool { return !slices.Contains(f.GrantTypes, g) })
	seconds, _ := strconv.ParseInt(f.Validity, 10, 64) // checked by the "seconds" rule
	return f, time.Duration(seconds) * time.Second, true, nil
}

// GenerateKeys makes an application's production or sandbox key with an
// application token, and shows its secret and token once, POST
// /store/subscriptions/:app/:type/generate.
func (h *Handlers) GenerateKeys(c echo.Context) error {
	app, kt, err := h.keyTarget(c)
	if err != nil {
		return err
	}
	f, validity, ok, err := h.bindKeyForm(c, app, kt)
	if !ok {
		return err
	}
	secret := oauth.NewSecret()
	key := &oauth.Client{AppID: app.ID, KeyType: kt, ConsumerKey: oauth.NewConsumerKey(), SecretHash: oauth.HashOf(secret),
		GrantTypes: f.GrantTypes, CallbackURL: f.CallbackURL, Validity: oauth.Validity{AppToken: validity}}
	err = h.store.CreateKey(c.Request().Context(), key)
	if errors.Is(err, portal.ErrConflict) {
		// Generated meanwhile, e.g. in another tab: show what exists.
		return h.subscriptionsPage(c, http.StatusConflict, app, &revealed{keyType: kt,
			message: "These keys were already generated; their secret cannot be shown again. Use Regenerate secret for a new one."})
	}
	if err != nil {
		return err
	}
	h.audit(c, portal.AuditKeysGenerated, h.CurrentUser(c).Username, key.ConsumerKey, app.Name+" "+string(kt))
	return h.showNewAppToken(c, app, key.ConsumerKey, &revealed{keyType: kt, secret: secret})
}

// UpdateKey saves a key's grant types, callback URL and validity, POST
// /store/subscriptions/:app/:type/update.
func (h *Handlers) UpdateKey(c echo.Context) error {
	app, key, err := h.ownedKey(c)
	if err != nil {
		return err
	}
	f, validity, ok, err := h.bindKeyForm(c, app, key.KeyType)
	if !ok {
		return err
	}
	if err := h.store.UpdateKeySettings(c.Request().Context(), key.ID, f.GrantTypes, f.CallbackURL, validity); err != nil {
		return err
	}
	h.audit(c, portal.AuditKeyUpdated, h.CurrentUser(c).Username, key.ConsumerKey,
		fmt.Sprintf("application %s: grant types %s, callback URL %q, validity %s s", app.Name, strings.Join(f.GrantTypes, ","), f.CallbackURL, f.Validity))
	kt, _ := findKeyType(func(kt keyTypeInfo) bool { return kt.t == key.KeyType })
	return h.flashTo(c, fmt.Sprintf("/store/subscriptions?app=%d", app.ID), kt.title+" key settings saved.")
}

// showNewAppToken issues an application token for a key and shows My
// Subscriptions with it (and whatever else r reveals); a key that does not
// allow client_credentials gets a message instead.
func (h *Handlers) showNewAppToken(c echo.Context, app *portal.Application, consumerKey string, r *revealed) error {
	client, err := h.store.ClientByKey(c.Request().Context(), consumerKey)
	if err != nil {
		return err
	}
	tok, oerr := h.oauth.IssueApplicationToken(c.Request().Context(), client)
	switch {
	case oerr == nil:
		r.token = tok
	case oerr.Code == oauth.ErrCodeUnauthorizedClient:
		r.message = "No application token: these keys do not allow the client_credentials grant."
	case oerr.Code == oauth.ErrCodeInvalidDPoPProof:
		r.message = "No application token: the application requires DPoP, so its tokens come only from /token, with a DPoP proof."
	default:
		return oerr
	}
	return h.subscriptionsPage(c, http.StatusOK, app, r)
}

// ownedKey returns the key of the URL's application and type, or a 404.
func (h *Handlers) ownedKey(c echo.Context) (*portal.Application, *portal.Key, error) {
	app, kt, err := h.keyTarget(c)
	if err != nil {
		return nil, nil, err
	}
	keys, err := h.store.KeysOfApplication(c.Request().Context(), app.ID)
	if err != nil {
		return nil, nil, err
	}
	i := slices.IndexFunc(keys, func(k portal.Key) bool { return k.KeyType == kt })
	if i < 0 {
		return nil, nil, echo.NewHTTPError(http.StatusNotFound, "These keys have not been generated yet.")
	}
	return app, &keys[i], nil
}

// ConfirmRegenerateToken asks before Re-generate, GET
// /store/subscriptions/:app/:type/token.
func (h *Handlers) ConfirmRegenerateToken(c echo.Context) error {
	return h.confirmKeyAction(c, "token")
}

// ConfirmRegenerateSecret asks before Regenerate secret, GET
// /store/subscriptions/:app/:type/secret.
func (h *Handlers) ConfirmRegenerateSecret(c echo.Context) error {
	return h.confirmKeyAction(c, "secret")
}

// confirmKeyAction is the page that asks before action ("token" or
// "secret") on the URL's key, which must exist.
func (h *Handlers) confirmKeyAction(c echo.Context, action string) error {
	app, key, err := h.ownedKey(c)
	if err != nil {
		return err
	}
	kt, _ := findKeyType(func(kt keyTypeInfo) bool { return kt.t == key.KeyType })
	title := "Re-generate"
	if action == "secret" {
		title = "Regenerate secret"
	}
	return render(c, http.StatusOK, store.ConfirmKeyAction(h.page(c, title, layout.NavSubscriptions),
		store.KeyActionView{AppID: app.ID, AppName: app.Name, Type: kt.slug, Title: kt.title, Action: action}))
}

// RegenerateToken revokes a key's application tokens at once and issues a
// new one, POST /store/subscriptions/:app/:type/token.
func (h *Handlers) RegenerateToken(c echo.Context) error {
	app, key, err := h.ownedKey(c)
	if err != nil {
		return err
	}
	if err := h.store.RevokeApplicationTokens(c.Request().Context(), key.ID); err != nil {
		return err
	}
	h.audit(c, portal.AuditAppTokensRevoked, h.CurrentUser(c).Username, key.ConsumerKey, "Re-generate")
	return h.showNewAppToken(c, app, key.ConsumerKey, &revealed{keyType: key.KeyType})
}

// RegenerateSecret gives a key a new consumer secret; the old one and every
// token issued to the key stop working at once, so a new application token
// is shown with the secret. POST /store/subscriptions/:app/:type/secret.
func (h *Handlers) RegenerateSecret(c echo.Context) error {
	app, key, err := h.ownedKey(c)
	if err != nil {
		return err
	}
	secret := oauth.NewSecret()
	if err := h.store.ReplaceSecret(c.Request().Context(), key.ID, oauth.HashOf(secret)); err != nil {
		return err
	}
	h.audit(c, portal.AuditSecretRegenerated, h.CurrentUser(c).Username, key.ConsumerKey, app.Name)
	return h.showNewAppToken(c, app, key.ConsumerKey, &revealed{keyType: key.KeyType, secret: secret})
}

// unsubscribeForm names the API to unsubscribe from and the page to return to.
type unsubscribeForm struct {
	API  int64  `form:"api"`
	From string `form:"from"`
}

// Unsubscribe ends an application's subscription, POST
// /store/applications/:id/unsubscribe.
func (h *Handlers) Unsubscribe(c echo.Context) error {
	app, err := h.ownedApplication(c, c.Param("id"))
	if err != nil {
		return err
	}
	var f unsubscribeForm
	if _, err := h.bindForm(c, &f); err != nil {
		return err
	}
	err = h.store.Unsubscribe(c.Request().Context(), app.ID, f.API)
	if isNotFound(err) {
		return echo.NewHTTPError(http.StatusNotFound, "This application is not subscribed to that API.")
	}
	if err != nil {
		return err
	}
	client, detail := h.appAuditFields(c, app.ID, app.Name)
	h.audit(c, portal.AuditUnsubscribed, h.CurrentUser(c).Username, client, fmt.Sprintf("%s from API %d", detail, f.API))
	if err := h.flash(c, app.Name+" is unsubscribed; its tokens no longer reach that API."); err != nil {
		return err
	}
	if f.From == "api" {
		return storeRedirect(c, fmt.Sprintf("/store/apis/%d", f.API))
	}
	return storeRedirect(c, fmt.Sprintf("/store/subscriptions?app=%d", app.ID))
}
