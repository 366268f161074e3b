package handlers

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

func TestDescribeAgent(t *testing.T) {
	for _, tt := range []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36 Edg/138.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36", "Chrome on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/138.0 Mobile/15E148 Safari/604.1", "Chrome on iOS"},
		{"Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/138.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"curl/8.14.1", "curl"},
		{"something else", "Unknown browser"},
		{"", "Unknown browser"},
	} {
		if got := describeAgent(tt.ua); got != tt.want {
			t.Errorf("describeAgent(%q) = %q, want %q", tt.ua, got, tt.want)
		}
	}
}

func TestUserAgentIsKeptClean(t *testing.T) {
	for _, tt := range []struct{ name, sent, want string }{
		{"as sent", "Firefox/140.0", "Firefox/140.0"},
		{"control characters and text-direction overrides dropped", "Fire\x00fox\u202e/1\t40", "Firefox/140"},
		{"not UTF-8", "Fire\xfffox", "Fire\uFFFDfox"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("User-Agent", tt.sent)
		if got := userAgent(echo.New().NewContext(req, nil)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("User-Agent", strings.Repeat("é", 1000))
	got := userAgent(echo.New().NewContext(req, nil))
	if len(got) > maxUserAgent || !utf8.ValidString(got) || len(got) < maxUserAgent-1 {
		t.Errorf("a long User-Agent kept as %d bytes (valid UTF-8: %v)", len(got), utf8.ValidString(got))
	}
}
