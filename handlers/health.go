package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// readyTimeout bounds the database check of /readyz: a probe must answer
// even when the database hangs.
const readyTimeout = 2 * time.Second

// Healthz is the liveness probe, GET /healthz: the process serves requests.
func (h *Handlers) Healthz(c echo.Context) error {
	noStore(c)
	return c.String(http.StatusOK, "ok\n")
}

// Readyz is the readiness probe, GET /readyz: 200 when the database
// answers a query, 503 otherwise.
func (h *Handlers) Readyz(c echo.Context) error {
	noStore(c)
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		slog.ErrorContext(ctx, "readiness check", "err", err)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ok\n")
}
