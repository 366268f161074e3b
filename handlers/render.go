package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/a-h/templ"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// render writes a page. It renders into a buffer first, so a failing
// component becomes an error page instead of half a page. Rendering ignores
// the request's cancellation: net/http cancels a request whose body broke
// off (a 408 for a stalled one), and its error page must still be written.
func render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(context.WithoutCancel(c.Request().Context()), &buf); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	// Store pages show personal data and, once, secrets: never cache them.
	noStore(c)
	return c.HTMLBlob(status, buf.Bytes())
}

// ErrorPage is the store's HTTP error handler: an HTML page with a sentence
// the user can act on. An echo.HTTPError below 500 shows its message (when
// it is more than the status text); anything else is logged here, once, and
// shown as a plain 500 without details.
func (h *Handlers) ErrorPage(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	v := store.ErrorView{Status: http.StatusInternalServerError, Title: "Something went wrong",
		Message: "The server could not complete the request. Try again in a moment."}
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code < 500 {
		v.Status, v.Title, v.Message = he.Code, http.StatusText(he.Code), "The request could not be handled."
		switch he.Code {
		case http.StatusNotFound:
			v.Title = "Page not found"
			v.Message = "There is nothing here. It may have been deleted, or it belongs to another account."
		case http.StatusMethodNotAllowed:
			if m := c.Request().Method; m != http.MethodGet && m != http.MethodHead {
				break
			}
			// The address of a form's answer (Generate, Save), opened again
			// from the address bar.
			v.Title = "Not a page"
			v.Message = "This address only takes a form sent from the store, so it cannot be opened or reloaded on its own. Go back to the page the form was on."
		}
		if msg, ok := he.Message.(string); ok && msg != http.StatusText(he.Code) {
			v.Message = msg
		}
	} else {
		slog.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method,
			"path", c.Request().URL.Path, "err", err)
	}
	if rerr := render(c, v.Status, store.Error(h.page(c, v.Title, ""), v)); rerr != nil {
		slog.ErrorContext(c.Request().Context(), "render error page", "err", rerr)
		_ = c.String(v.Status, v.Title)
	}
}

// isNotFound reports a missing row.
func isNotFound(err error) bool { return errors.Is(err, portal.ErrNotFound) }
