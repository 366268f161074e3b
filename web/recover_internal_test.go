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
	e.GET("/store/boom", func(echo.Context) error { panic(secret) })
	e.GET("/store/abort", func(echo.Context) error { panic(http.ErrAbortHandler) })
	// The gateway's calls, served ahead of echo, the same way.
	srv := httptest.NewServer(&gatewayFirst{echo: e, gateway: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/boom":
			panic(secret)
		case "/api/abort":
			panic(http.ErrAbortHandler)
		}
	})})
	defer srv.Close()

	for _, path := range []string{"/store/boom", "/api/boom"} {
		logs.Reset()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError || string(body) != `{"error":"Internal Server Error"}`+"\n" ||
			resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: panic answered %d %q, want 500 without the panic's value or a stack", path, resp.StatusCode, body)
		}
		if l := logs.String(); !strings.Contains(l, "handler panicked") || !strings.Contains(l, "path="+path) ||
			!strings.Contains(l, "goroutine") || strings.Contains(l, secret) {
			t.Errorf("%s: log %q: want the path and stack, not the panic's value", path, l)
		}
	}

	for _, path := range []string{"/store/abort", "/api/abort"} {
		if resp, err := http.Get(srv.URL + path); err == nil {
			resp.Body.Close()
			t.Errorf("%s: http.ErrAbortHandler answered %d instead of aborting the connection", path, resp.StatusCode)
		}
	}
}
