package handlers

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestRequireLoginSendsToStoreAcrossPorts(t *testing.T) {
	h := New(nil, nil) // nobody is logged in, so no database is needed
	e := echo.New()
	protected := h.RequireLogin(func(c echo.Context) error { return c.String(http.StatusOK, "consent") })
	e.GET("/*", protected)
	e.POST("/*", protected)

	tests := []struct {
		name, method, url string
		port, storePort   int
		want              string
	}{
		{"store page", http.MethodGet, "https://localhost:9443/store/applications?x=1", 9443, 9443,
			"/store/login?return=" + url.QueryEscape("/store/applications?x=1")},
		{"store port unknown (tests)", http.MethodGet, "https://localhost:9443/store/applications", 9443, 0,
			"/store/login?return=" + url.QueryEscape("/store/applications")},
		{"consent page on the token port", http.MethodGet, "https://localhost:8243/authorize?client_id=k&scope=a+b", 8243, 9443,
			"https://localhost:9443/store/login?return=" + url.QueryEscape("https://localhost:8243/authorize?client_id=k&scope=a+b")},
		{"IPv6 host", http.MethodGet, "https://[::1]:8243/authorize", 8243, 9444,
			"https://[::1]:9444/store/login?return=" + url.QueryEscape("https://[::1]:8243/authorize")},
		{"a form is not replayed", http.MethodPost, "https://localhost:9443/store/applications", 9443, 9443, "/store/login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.SetStorePort(tt.storePort)
			req := httptest.NewRequest(tt.method, tt.url, nil)
			req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{Port: tt.port}))
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != tt.want {
				t.Errorf("got %d to %q, want %q", rec.Code, rec.Header().Get("Location"), tt.want)
			}
		})
	}
}

func FuzzSafeReturn(f *testing.F) {
	for _, s := range []string{"/store", "https://localhost:8243/authorize", "//evil", "https://evil/", "/\\evil", "http://localhost.evil/",
		"https://LOCALHOST:8243/authorize"} { // host names are case-insensitive (RFC 3986 §3.2.2)
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		got := safeReturn(target, "localhost:9443")
		if got == "" {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted unparsable %q", got)
		}
		if u.Host != "" && !strings.EqualFold(u.Hostname(), "localhost") {
			t.Fatalf("accepted %q, a redirect to host %q", got, u.Hostname())
		}
		if u.Host == "" && (u.Scheme != "" || len(got) < 1 || got[0] != '/' || (len(got) > 1 && got[1] == '/')) {
			t.Fatalf("accepted %q", got)
		}
	})
}
