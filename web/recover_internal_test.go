package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestPanicsAreRecovered: a handler's panic is a 500 with no stack trace,
// logged with its stack and path but not its value (which could be a
// secret); http.ErrAbortHandler still aborts the connection.
func TestPanicsAreRecovered(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(prev)
	const secret = "the-secret-in-a-panic"
	e := newEcho(Config{}, "", "store")
	e.GET("/boom", func(echo.Context) error { panic(secret) })
	e.GET("/abort", func(echo.Context) error { panic(http.ErrAbortHandler) })
	srv := httptest.NewServer(e)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), secret) || strings.Contains(string(body), "goroutine") {
		t.Errorf("panic answered %d %q, want 500 without the panic's value or a stack", resp.StatusCode, body)
	}
	if l := logs.String(); !strings.Contains(l, "handler panicked") || !strings.Contains(l, "path=/boom") ||
		!strings.Contains(l, "goroutine") || strings.Contains(l, secret) {
		t.Errorf("log %q: want the path and stack, not the panic's value", l)
	}

	if resp, err := http.Get(srv.URL + "/abort"); err == nil {
		resp.Body.Close()
		t.Errorf("http.ErrAbortHandler answered %d instead of aborting the connection", resp.StatusCode)
	}
}
