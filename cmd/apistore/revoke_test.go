package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// curlHeaders runs the real curl with the docs' arguments and returns the
// status and headers of the response (curl -D), the body being empty.
func curlHeaders(t *testing.T, args ...string) (int, http.Header) {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-sS", "-D", "-"}, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	head, body, _ := strings.Cut(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n\n")
	if body != "" {
		t.Fatalf("curl %v: body %q, want none", args, body)
	}
	lines := strings.Split(head, "\n")
	var status int
	if f := strings.Fields(lines[0]); len(f) > 1 {
		status, _ = strconv.Atoi(f[1])
	}
	h := http.Header{}
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			h.Add(k, strings.TrimSpace(v))
		}
	}
	return status, h
}

// TestWSO2RevokeCurl runs the revocation page's curl command against the
// binary, over plain HTTP as the docs do.
func TestWSO2RevokeCurl(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, "--store-port", "0", "--https-port", "0", "--http-port", "0")
	s.admin(t, "s3cret-password\n", "user create", "--username", "admin")
	var k keys
	if err := json.Unmarshal([]byte(s.admin(t, "", "app create", "--owner", "admin", "--name", "DefaultApplication")), &k); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(k.Production.ConsumerKey + ":" + k.Production.ConsumerSecret))
	tok := curl(t, "-k", "-d", "grant_type=password&username=admin&password=s3cret-password&scope=PRODUCTION",
		"-H", "Authorization: Basic "+b64, "-H", "Content-Type: application/x-www-form-urlencoded", s.urls["https"]+"/token")
	access, _ := tok["access_token"].(string)

	revoke := s.urls["http"] + "/revoke"
	status, h := curlHeaders(t, "-k", "-v", "-d", "token="+access, "-H", "Authorization: Basic "+b64,
		"-H", "Content-Type: application/x-www-form-urlencoded", revoke)
	if status != 200 || h.Get("Revokedaccesstoken") != access || h.Get("Authorizeduser") != "admin@carbon.super" ||
		h.Get("Revokedrefreshtoken") == "" || h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
		t.Fatalf("revoke: %d %v", status, h)
	}
	// An invalid (here: already revoked) token: 200 and only the cache headers.
	status, h = curlHeaders(t, "-k", "-v", "-d", "token="+access, "-H", "Authorization: Basic "+b64, revoke)
	if status != 200 || h.Get("Revokedaccesstoken") != "" || h.Get("Authorizeduser") != "" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("revoke again: %d %v", status, h)
	}
	got := curl(t, "-k", "-d", "grant_type=refresh_token&refresh_token="+tok["refresh_token"].(string),
		"-H", "Authorization: Basic "+b64, s.urls["https"]+"/token")
	if got["error"] != "invalid_grant" {
		t.Fatalf("the refresh token of a revoked access token still works: %v", got)
	}
}
