package gateway_test

import (
	"strings"
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/portal"
)

// TestNonCanonicalPathsAreRefused is the outside review's attack: beside a
// catch-all resource (GET /*, WSO2's default) a scoped one (GET /secret,
// scope update). Paths a backend folds back to /secret (an empty segment,
// a ;parameter, an encoded slash, dot or backslash, a double encoding)
// used to miss the scoped template, match the catch-all and reach the
// backend; they are refused with 400 now, before any token check, and
// canonical paths go through as before, forwarded as matched.
func TestNonCanonicalPathsAreRefused(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	api := &portal.API{Name: "Vault", Version: "v1", Context: "/vault", ProductionURL: e.prod.URL + "/base",
		Resources: []portal.Resource{{Method: "GET", Path: "/*"}, {Method: "GET", Path: "/secret", Scope: "update"},
			{Method: "GET", Path: "/files/{name}"}}}
	token := e.publish(api) // no scope update
	for _, path := range []string{
		"//secret", "/secret//", "/x//secret", "/secret;jsessionid=1", "/secret;", "/secret%3Bx=1",
		"/%2Fsecret", "/x%2f..%2fsecret", "/x/%2e%2e/secret", "/x/%2E./secret", "/.%2e/secret", "/x/../secret", "/./secret",
		"/x%5C..%5Csecret", "/x/%252e%252e/secret", "/%252Fsecret", "/secret%00", "/secret%0A",
	} {
		r := e.call("GET", "/vault/v1"+path, token, nil)
		if r.status != 400 || r.code() != gateway.CodeNoMatchingResource || !strings.Contains(r.fault["description"].(string), "canonical") {
			t.Errorf("GET /vault/v1%s: %d %v, want 400 refused as not canonical", path, r.status, r.body)
		}
	}
	// The context and version are part of the path too.
	if r := e.call("GET", "/vault%2Fv1/secret", token, nil); r.status != 400 {
		t.Errorf("encoded slash in the API's prefix: %d %v", r.status, r.body)
	}
	if r := e.call("GET", "/vault/v1/secret", "", nil); r.status != 401 {
		t.Errorf("canonical path without a token: %d, want 401", r.status)
	}
	for _, tt := range []struct {
		path, forwarded, rawForwarded string
		status                        int
	}{
		{"/secret", "", "", 403},
		{"/%73ecret", "", "", 403}, // an encoded unreserved character is the same path
		{"/secret/", "", "", 403},  // one trailing slash matches as it always did
		{"/other", "/base/other", "", 200},
		{"/other/", "/base/other/", "", 200},
		{"/files/a%3Ab%20c", "/base/files/a:b c", "/base/files/a%3Ab%20c", 200},
		{"", "/base", "", 200},
	} {
		r := e.call("GET", "/vault/v1"+tt.path, token, nil)
		if r.status != tt.status || (tt.forwarded != "" && r.body["path"] != tt.forwarded) || r.body["rawPath"] != nil && r.body["rawPath"] != tt.rawForwarded {
			t.Errorf("GET /vault/v1%s: %d, forwarded %v (raw %v), want %d %s (raw %q)", tt.path, r.status, r.body["path"], r.body["rawPath"], tt.status, tt.forwarded, tt.rawForwarded)
		}
	}
	long := "/vault/v1/" + strings.Repeat("a", 9000)
	if r := e.call("GET", long, token, nil); r.status != 414 || r.code() != gateway.CodeNoMatchingResource {
		t.Errorf("a 9,000-byte path: %d %v, want 414", r.status, r.fault)
	}
}
