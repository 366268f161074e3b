package web

import (
	"net/http"
	"strings"

	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/static"
	"github.com/labstack/echo/v4"
)

// storeRoutes adds the developer portal's pages to e. Every POST carries the
// session's form token (h.CSRF); pages about one's own data need a login.
func storeRoutes(e *echo.Echo, h *handlers.Handlers, deadline echo.MiddlewareFunc) {
	e.HTTPErrorHandler = h.ErrorPage
	e.Pre(h.TenantStore)
	e.Use(securityHeaders(h), deadline, limitBody, h.CSRF)
	e.StaticFS("/store/static", static.FS)
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/store") })

	s := e.Group("/store")
	s.GET("", h.Catalogue)
	s.GET("/login", h.ShowLogin)
	s.POST("/login", h.LogIn)
	e.POST(handlers.LogOutPath, h.LogOut)
	s.GET("/signup", h.ShowSignup)
	s.POST("/signup", h.SignUp)
	s.GET("/password/forgot", h.ShowForgotPassword)
	s.POST("/password/forgot", h.ForgotPassword)
	s.GET("/password/reset", h.ShowResetPassword)
	s.POST("/password/reset", h.ResetPassword)

	// Per route, not a Group's Use: that would also send unknown paths to the log-in page.
	login := h.RequireLogin
	s.GET("/applications", h.Applications, login)
	s.GET("/applications/new", h.NewApplication, login)
	s.POST("/applications", h.AddApplication, login)
	s.GET("/applications/:id/edit", h.EditApplication, login)
	s.GET("/applications/:id/usage", h.AppUsage, login)
	s.GET("/applications/:id/usage.csv", h.AppUsageCSV, login)
	s.POST("/applications/:id", h.UpdateApplication, login)
	s.GET("/applications/:id/delete", h.ConfirmDeleteApplication, login)
	s.POST("/applications/:id/delete", h.DeleteApplication, login)
	s.GET("/authorized", h.AuthorizedApps, login)
	s.GET("/authorized/revoke", h.ConfirmRevokeAccess, login)
	s.POST("/authorized/revoke", h.RevokeAccess, login)
	s.POST("/applications/:id/unsubscribe", h.Unsubscribe, login)
	s.GET("/apis/:id", h.ShowAPI)
	s.GET("/apis/:id/openapi.json", h.DefinitionJSON)
	s.GET("/apis/:id/openapi.yaml", h.DefinitionYAML)
	s.GET("/apis/:id/reference", h.APIReference, rendererStyles(h))
	s.POST("/apis/:id/console/token", h.ConsoleToken, login)
	s.GET("/apis/:id/docs/:doc", h.ShowDoc)
	s.POST("/apis/:id/subscribe", h.Subscribe, login)
	s.GET("/subscriptions", h.Subscriptions, login)
	s.POST("/subscriptions/:app/:type/generate", h.GenerateKeys, login)
	s.GET("/subscriptions/:app/:type/token", h.ConfirmRegenerateToken, login)
	s.POST("/subscriptions/:app/:type/token", h.RegenerateToken, login)
	s.GET("/subscriptions/:app/:type/secret", h.ConfirmRegenerateSecret, login)
	s.POST("/subscriptions/:app/:type/secret", h.RegenerateSecret, login)
	s.POST("/subscriptions/:app/:type/update", h.UpdateKey, login)
	s.POST("/subscriptions/:app/tls/:method", h.SetClientAuth, login)
	s.GET("/admin/audit", h.AuditTrail, login)
	admin := []echo.MiddlewareFunc{login, h.RequireAdmin}
	s.GET("/admin/users", h.Users, admin...)
	s.GET("/admin/usage", h.PlatformUsage, admin...)
	s.GET("/admin/usage.csv", h.PlatformUsageCSV, admin...)
	s.GET("/admin/users/disable", h.ConfirmDisableUser, admin...)
	s.POST("/admin/users/disable", h.DisableUser, admin...)
	s.POST("/admin/users/enable", h.EnableUser, admin...)
	s.POST("/admin/users/unlock", h.Unlock, admin...)
	s.GET("/admin/tiers", h.Tiers, admin...)
	s.POST("/admin/tiers", h.SetTier, admin...)
	s.POST("/admin/tiers/delete", h.DeleteTier, admin...)
	s.GET("/admin/scopes", h.Scopes, admin...)
	s.POST("/admin/scopes", h.SetScope, admin...)
	s.GET("/account", h.ShowAccount, login)
	s.POST("/account/sessions/end", h.EndSession, login)
	s.POST("/account/sessions/end-others", h.EndOtherSessions, login)
	s.POST("/account/password", h.ChangePassword, login)
	s.POST("/account/email", h.ChangeEmail, login)
	s.GET("/account/delete", h.ConfirmDeleteAccount, login)
	s.POST("/account/delete", h.DeleteAccount, login)

	publisher := []echo.MiddlewareFunc{login, h.RequirePublisher}
	s.GET("/publisher", h.Publisher, publisher...)
	s.GET("/publisher/new", h.NewAPI, publisher...)
	s.POST("/publisher", h.CreateAPI, publisher...)
	s.GET("/publisher/:id/edit", h.EditAPI, publisher...)
	s.GET("/publisher/:id/usage", h.APIUsage, publisher...)
	s.GET("/publisher/:id/usage.csv", h.APIUsageCSV, publisher...)
	s.POST("/publisher/:id", h.UpdateAPI, publisher...)
	s.POST("/publisher/:id/retire", h.RetireAPI, publisher...)
	s.POST("/publisher/:id/publish", h.PublishAPI, publisher...)
	s.GET("/publisher/:id/docs", h.PublisherDocs, publisher...)
	s.GET("/publisher/:id/docs/new", h.NewDoc, publisher...)
	s.POST("/publisher/:id/docs", h.CreateDoc, publisher...)
	s.GET("/publisher/:id/docs/:doc/edit", h.EditDoc, publisher...)
	s.POST("/publisher/:id/docs/:doc", h.UpdateDoc, publisher...)
	s.POST("/publisher/:id/docs/:doc/delete", h.DeleteDoc, publisher...)
}

// contentSecurityPolicy is the store's policy: everything from the store
// itself, scripts connecting to the API origins too. inlineStyles lets
// styles come from style elements and attributes as well, for the API
// reference's renderer alone (see rendererStyles); scripts stay 'self'.
func contentSecurityPolicy(apiOrigins []string, inlineStyles bool) string {
	styles := ""
	if inlineStyles {
		styles = "style-src 'self' 'unsafe-inline'; "
	}
	return "default-src 'self'; " + styles + "connect-src " + strings.Join(append([]string{"'self'"}, apiOrigins...), " ") +
		"; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
}

// rendererStyles is the one relaxation of the policy, on the API reference
// page: RapiDoc's web components carry their styles in style elements,
// which a 'self' policy blocks. Scripts, connections and frames keep the
// store's policy, so no script but the store's own runs there.
func rendererStyles(hs *handlers.Handlers) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Content-Security-Policy", contentSecurityPolicy(hs.APIOrigins(), true))
			return next(c)
		}
	}
}

// maxFormBytes bounds a store form; nothing the store takes comes near it.
const maxFormBytes = 64 << 10

// limitBody refuses larger bodies before anything reads them.
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().ContentLength > maxFormBytes {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "The form is too large.")
		}
		c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxFormBytes)
		return next(c)
	}
}

// securityHeaders keeps pages out of frames, scripts to our own files, and
// browsers from guessing content types. There is no form-action directive:
// the log-in form redirects to the consent page on another port. Scripts
// may connect to the store and to the gateway's HTTPS listener, which the
// API page's console calls.
func securityHeaders(hs *handlers.Handlers) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", contentSecurityPolicy(hs.APIOrigins(), false))
			h.Set("X-Frame-Options", "DENY")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			return next(c)
		}
	}
}
