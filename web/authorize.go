package web

import (
	"github.com/apistore/apistore/handlers"
	"github.com/labstack/echo/v4"
)

// authorizeRoutes adds the authorization endpoint and its consent form to
// the API application. They are pages, not API calls: errors show the
// store's HTML error page, and the store's security headers keep them out
// of frames (clickjacking a consent page would approve for the user).
func authorizeRoutes(e *echo.Echo, h *handlers.Handlers, deadline echo.MiddlewareFunc) {
	page := []echo.MiddlewareFunc{htmlErrors(h), securityHeaders(h), deadline, limitBody}
	e.GET("/authorize", h.Authorize, page...)
	e.POST("/authorize", h.Decide, append(page, h.CSRF)...)
	// The consent page's header links and log-out form point into the store.
	e.Any("/store/*", h.ToStore)
}

// htmlErrors renders a route's errors with the store's error page instead of
// the API application's JSON.
func htmlErrors(h *handlers.Handlers) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := next(c); err != nil {
				h.ErrorPage(err, c)
			}
			return nil
		}
	}
}
