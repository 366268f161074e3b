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
		listener, store   string // public URLs; "": not known
		want              string
	}{
		{"store page", http.MethodGet, "https://localhost:9443/store/applications?x=1", "https://localhost:9443", "https://localhost:9443",
			"/store/login?return=" + url.QueryEscape("/store/applications?x=1")},
		{"store URL unknown (tests)", http.MethodGet, "https://localhost:9443/store/applications", "https://localhost:9443", "",
			"/store/login?return=" + url.QueryEscape("/store/applications")},
		{"consent page on the token port", http.MethodGet, "https://localhost:8243/authorize?client_id=k&scope=a+b", "https://localhost:8243", "https://localhost:9443",
			"https://localhost:9443/store/login?return=" + url.QueryEscape("https://localhost:8243/authorize?client_id=k&scope=a+b")},
		{"IPv6 host", http.MethodGet, "https://[::1]:8243/authorize", "https://[::1]:8243", "https://[::1]:9444",
			"https://[::1]:9444/store/login?return=" + url.QueryEscape("https://[::1]:8243/authorize")},
		{"public URLs, whatever the Host header", http.MethodGet, "https://evil.example/authorize", "https://api.example.com", "https://portal.example.com",
			"https://portal.example.com/store/login?return=" + url.QueryEscape("https://api.example.com/authorize")},
		{"listener unknown: the connection's address", http.MethodGet, "https://evil.example/authorize", "", "https://localhost:9443",
			"https://localhost:9443/store/login?return=" + url.QueryEscape("https://127.0.0.1:8243/authorize")},
		{"a form is not replayed", http.MethodPost, "https://localhost:9443/store/applications", "https://localhost:9443", "https://localhost:9443", "/store/login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.SetURLs(tt.store)
			req := httptest.NewRequest(tt.method, tt.url, nil)
			ctx := context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8243})
			if tt.listener != "" {
				ctx = WithListenerURL(ctx, tt.listener)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req.WithContext(ctx))
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
		got := safeReturn(target, []string{"localhost"})
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
