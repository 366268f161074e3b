package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzBearerToken: the token read from an Authorization header is the
// text after "Bearer " up to a comma or blank, never empty, and only ever
// read from the Bearer scheme (RFC 6750 §2.1).
func FuzzBearerToken(f *testing.F) {
	for _, h := range []string{"Bearer abc", "bearer abc, Content-Type: x", "Bearer ", "Basic abc", "BEARER\ta", "Bearer  ,x", "Bearer \xff"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{"Authorization": {header}}}
		token, ok := bearerToken(r)
		if !ok {
			if token != "" {
				t.Fatalf("no token, but %q", token)
			}
			return
		}
		if token == "" || strings.ContainsAny(token, ", \t") || !strings.EqualFold(header[:7], "Bearer ") ||
			!strings.Contains(header, token) {
			t.Fatalf("Authorization %q gave token %q", header, token)
		}
	})
}
