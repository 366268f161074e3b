package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/smtptest"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// apistore runs the binary with args (and --database when the data
// directory is on PostgreSQL) and returns its exit code and output.
func apistore(t *testing.T, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, withDatabase(args)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Run()
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

var resetLinkLine = regexp.MustCompile(`^(https://[^/]+)/store/password/reset\?token=([A-Za-z0-9_-]{43})\n$`)

func TestUserResetPassword(t *testing.T) {
	dir := newDataDir(t)
	if code, _, errOut := apistore(t, nil, "alice-password\n", "user", "create", "--data-dir", dir, "--username", "alice"); code != 0 {
		t.Fatalf("user create: %s", errOut)
	}
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		base string
		note bool // says which URL the link names
	}{
		{"the store's public URL", nil, []string{"--store-public-url", "https://portal.example.com"}, "https://portal.example.com", false},
		{"from the environment, as serve reads it", []string{"APISTORE_STORE_PUBLIC_URL=https://store.example.com:8443"}, nil, "https://store.example.com:8443", false},
		{"the default", nil, nil, "https://localhost:9443", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := apistore(t, tt.env, "", append([]string{"user", "reset-password", "--data-dir", dir, "--username", "ALICE"}, tt.args...)...)
			m := resetLinkLine.FindStringSubmatch(out)
			if code != 0 || m == nil || m[1] != tt.base {
				t.Fatalf("exit %d, stdout %q, stderr %q; want one link on %s", code, out, errOut, tt.base)
			}
			if strings.Contains(errOut, "--store-public-url") != tt.note || !strings.Contains(errOut, "sets a new password for alice once") {
				t.Errorf("stderr %q", errOut)
			}
			u, err := openStore(t, dir).PasswordResetUser(context.Background(), oauth.HashOf(m[2]), time.Now().Add(23*time.Hour))
			if err != nil || u.Username != "alice" {
				t.Errorf("the link's user a day later: %+v, %v", u, err)
			}
		})
	}
	code, out, _ := apistore(t, nil, "", "user", "reset-password", "--data-dir", dir, "--username", "alice", "--validity", "10m")
	token := resetLinkLine.FindStringSubmatch(out)[2]
	if u, err := openStore(t, dir).PasswordResetUser(context.Background(), oauth.HashOf(token), time.Now().Add(11*time.Minute)); code != 0 || err == nil {
		t.Errorf("a link of 10 minutes 11 minutes later: %+v", u)
	}
	if code, out, errOut := apistore(t, nil, "", "user", "reset-password", "--data-dir", dir, "--username", "alice@carbon.super"); code != 0 ||
		!resetLinkLine.MatchString(out) || !strings.Contains(errOut, "sets a new password for alice once") {
		t.Errorf("alice@carbon.super (the super tenant's alice): exit %d, %q, %q", code, out, errOut)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--username", "nobody"}, 1, `no user "nobody"`},
		{nil, 2, "--username is required"},
		{[]string{"--username", "alice", "--validity", "0s"}, 2, "--validity 0s: give 1m to 168h"},
		{[]string{"--username", "alice", "--validity", "200h"}, 2, "give 1m to 168h"},
		{[]string{"--username", "alice", "--store-public-url", "http://portal.example.com"}, 2, "must be https"},
	} {
		code, out, errOut := apistore(t, nil, "", append([]string{"user", "reset-password", "--data-dir", dir}, tt.args...)...)
		if code != tt.code || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tt.args, code, out, errOut, tt.code, tt.want)
		}
	}
	events, err := openStore(t, dir).AuditEvents(context.Background(), portal.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var made int
	for _, e := range events {
		if e.Event == portal.AuditResetLinkMade && e.Username == "alice" && e.Remote == "command line" {
			made++
		}
		if strings.Contains(e.Detail, token) {
			t.Error("a token is in the audit trail")
		}
	}
	if made != 5 {
		t.Errorf("%d links audited, want 5", made)
	}
}

// TestServeMailsResetLinks follows a forgotten password through the binary
// and an SMTP server: the link in the mail names --store-public-url, never
// the Host header the request came with, and sets the password once.
func TestServeMailsResetLinks(t *testing.T) {
	smtp := smtptest.Start(t)
	s := startServer(t, newDataDir(t), nil, append(anyPorts, "--store-public-url", "https://portal.example.com",
		"--smtp-url", "smtp://"+smtp.Addr+"?tls=none", "--smtp-from", "apistore <noreply@example.com>")...)
	if !strings.Contains(s.log(), "apistore: mail through "+smtp.Addr+" (no TLS)") {
		t.Errorf("the start-up lines do not say where mail goes:\n%s", s.log())
	}
	s.admin(t, "alice-password\n", "user create", "--username", "alice", "--email", "alice@example.com")

	c := storeClient()
	_, page := fetch(t, c, http.MethodGet, s.urls["store"]+"/password/forgot", nil)
	form := url.Values{"csrf_token": {csrfMeta.FindStringSubmatch(page)[1]}, "name": {"alice"}}
	req, _ := http.NewRequest(http.MethodPost, s.urls["store"]+"/password/forgot", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = "evil.example"
	storeURL, _ := url.Parse(s.urls["store"])
	for _, ck := range c.Jar.Cookies(storeURL) { // a jar picks cookies by the Host header
		req.AddCookie(ck)
	}
	resp, err := (&http.Client{Transport: c.Transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ask for a link: %d\n%s", resp.StatusCode, body)
	}
	m := smtp.Next(t, 30*time.Second)
	link := regexp.MustCompile(`https://\S+/store/password/reset\?token=\S+`).FindString(m.Body)
	if !strings.HasPrefix(link, "https://portal.example.com/store/password/reset?token=") || m.To[0] != "alice@example.com" {
		t.Fatalf("mail to %v with the link %q:\n%s", m.To, link, m.Body)
	}
	path := strings.TrimPrefix(link, "https://portal.example.com/store")
	_, page = fetch(t, c, http.MethodGet, s.urls["store"]+path, nil)
	if r, _ := submitForm(t, c, s.urls["store"]+path, page, url.Values{"password": {"mailed-password"},
		"password_confirm": {"mailed-password"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("set the password: %d", r.StatusCode)
	}
	fresh := storeClient()
	_, page = fetch(t, fresh, http.MethodGet, s.urls["store"]+"/login", nil)
	if r, _ := submitForm(t, fresh, s.urls["store"]+"/login", page, url.Values{"username": {"alice"}, "password": {"mailed-password"}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("log in with the new password: %d", r.StatusCode)
	}
	if notice := smtp.Next(t, 30*time.Second); notice.Subject != "Your apistore password was changed" {
		t.Errorf("notice %q", notice.Subject)
	}
}

func TestMailFlags(t *testing.T) {
	smtp := smtptest.Start(t)
	dir := newDataDir(t)
	code, out, errOut := apistore(t, nil, "", "mail", "test", "--to", "ops@example.com", "--smtp-server", smtp.Addr, "--smtp-tls", "none",
		"--smtp-from", "noreply@example.com")
	if code != 0 || !strings.Contains(out, "sent a test message to ops@example.com") {
		t.Fatalf("mail test: exit %d, %q %q", code, out, errOut)
	}
	if m := smtp.Next(t, 30*time.Second); m.To[0] != "ops@example.com" || m.Subject != "apistore test message" {
		t.Errorf("mail to %v: %q", m.To, m.Subject)
	}
	for _, tt := range []struct {
		args []string
		env  []string
		code int
		want string
	}{
		{[]string{"mail", "test", "--smtp-server", smtp.Addr}, nil, 2, "--to is required"},
		{[]string{"mail", "test", "--to", "ops@example.com"}, nil, 2, "--smtp-url or --smtp-server is required"},
		{[]string{"mail", "test", "--to", "ops@example.com", "--smtp-server", smtp.Addr, "--smtp-from", "noreply@example.com"}, nil, 1,
			"STARTTLS"}, // required, and this server does not offer it
		{[]string{"serve", "--data-dir", dir, "--smtp-server", "smtp.example.com"}, nil, 1, "--smtp-from is required"},
		{[]string{"serve", "--data-dir", dir, "--smtp-server", "smtp.example.com", "--smtp-from", "noreply@example.com", "--smtp-tls", "none",
			"--smtp-username", "apistore"}, []string{"APISTORE_SMTP_PASSWORD=secret"}, 1, "password in clear"},
		{[]string{"serve", "--data-dir", dir, "--smtp-from", "noreply@example.com"}, nil, 1, "need --smtp-url or --smtp-server"},
		{[]string{"serve", "--data-dir", dir, "--smtp-url", "smtp://smtp.example.com", "--smtp-server", "smtp.example.com",
			"--smtp-from", "noreply@example.com"}, nil, 1, "--smtp-url replaces --smtp-server"},
		{[]string{"serve", "--data-dir", dir, "--smtp-from", "noreply@example.com"}, []string{"APISTORE_SMTP_URL=http://u:secret@smtp.example.com"},
			1, "--smtp-url: the scheme must be smtp or smtps"},
		{[]string{"serve", "--data-dir", dir, "--password-reset-validity", "0s"}, nil, 1, "--password-reset-validity 0s: give 1m to 168h"},
		{[]string{"serve", "--data-dir", dir, "--refresh-grace", "-1s"}, nil, 1, "--refresh-grace -1s: give 0 (off) to 10m"},
		{[]string{"serve", "--data-dir", dir}, []string{"APISTORE_REFRESH_GRACE=11m"}, 1, "--refresh-grace 11m0s: give 0 (off) to 10m"},
	} {
		code, _, errOut := apistore(t, tt.env, "", tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

func TestUserAdminCommands(t *testing.T) {
	dir := newDataDir(t)
	for _, u := range [][]string{{"alice", "subscriber", "alice@example.com"}, {"bob", "admin", "bob@example.com"}, {"carol", "subscriber", ""}} {
		args := []string{"user", "create", "--data-dir", dir, "--username", u[0], "--role", u[1]}
		if u[2] != "" {
			args = append(args, "--email", u[2])
		}
		if code, _, errOut := apistore(t, nil, u[0]+"-password\n", args...); code != 0 {
			t.Fatalf("user create %s: %s", u[0], errOut)
		}
	}
	d := openStore(t, dir)
	now := time.Now()
	for range 5 {
		if _, err := d.SettleLogin(context.Background(), 0, []string{"u:carol"}, now, now.Add(-15*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		if _, err := d.SettleLogin(context.Background(), 0, []string{"a:192.0.2.7"}, now, now.Add(-15*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	run := func(want string, args ...string) string {
		t.Helper()
		code, out, errOut := apistore(t, nil, "", append(args[:2:2], append([]string{"--data-dir", dir}, args[2:]...)...)...)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("apistore %v: exit %d, stdout %q, stderr %q; want %q", args, code, out, errOut, want)
		}
		return out
	}
	list := run("USERNAME", "user", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "alice ") || !strings.Contains(lines[1], "alice@example.com") ||
		!strings.Contains(lines[2], "admin") || !strings.Contains(lines[3], "carol") || !strings.Contains(lines[3], "locked out until") ||
		!strings.Contains(lines[3], "after 5 failed log-ins") ||
		!strings.HasSuffix(lines[1], "active") {
		t.Errorf("user list:\n%s", list)
	}
	if out := run("carol", "user", "list", "--filter", "carol", "--json"); !strings.Contains(out, `"failed_logins":5`) {
		t.Errorf("user list --json of a locked user: %s", out)
	}
	if out := run("alice", "user", "list", "--filter", "ALI", "--json"); strings.Count(out, "\n") != 1 ||
		!strings.Contains(out, `"username":"alice","email":"alice@example.com","roles":["subscriber"]`) {
		t.Errorf("user list --json: %s", out)
	}
	run("disabled user alice: 0 sessions logged out, 0 tokens revoked", "user", "disable", "--username", "ALICE")
	if out := run("alice", "user", "list", "--filter", "alice"); !strings.Contains(out, "disabled since") {
		t.Errorf("user list after disabling:\n%s", out)
	}
	run("user alice was disabled already", "user", "disable", "--username", "alice")
	run("enabled user alice", "user", "enable", "--username", "alice")
	run("unlocked username carol: forgot failed log-ins (5)", "user", "unlock", "--username", "CAROL")
	run("username carol has no failures to forget", "user", "unlock", "--username", "carol")
	run("unlocked address 192.0.2.7: forgot failed log-ins (20)", "user", "unlock", "--address", "192.0.2.7")
	if out := run("carol", "user", "list"); strings.Contains(out, "locked") {
		t.Errorf("still locked:\n%s", out)
	}
	code, out, errOut := apistore(t, nil, "", "user", "disable", "--data-dir", dir, "--username", "bob")
	if code != 0 || !strings.Contains(out, "disabled user bob") || !strings.Contains(errOut, "no enabled user has the admin role now") {
		t.Errorf("disable the only admin: exit %d, %q, %q; want a warning", code, out, errOut)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"user", "disable", "--username", "nobody"}, 1, `no user "nobody"`},
		{[]string{"user", "enable", "--username", "nobody"}, 1, `no user "nobody"`},
		{[]string{"user", "disable"}, 2, "--username is required"},
		{[]string{"user", "enable"}, 2, "--username is required"},
		{[]string{"user", "delete"}, 2, "--username is required"},
		{[]string{"user", "unlock"}, 2, "give --username or --address"},
		{[]string{"user", "unlock", "--username", "carol", "--address", "192.0.2.7"}, 2, "give --username or --address"},
		{[]string{"user", "unlock", "--address", "192.0.2"}, 2, "is not an IP address"},
		{[]string{"user", "list", "--limit", "0"}, 2, "--limit must be positive"},
	} {
		code, _, errOut := apistore(t, nil, "", append(tt.args, "--data-dir", dir)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
	events, err := d.AuditEvents(context.Background(), portal.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range events {
		if e.Remote == "command line" {
			seen[e.Event]++
		}
	}
	if seen[portal.AuditUserDisabled] != 2 || seen[portal.AuditUserEnabled] != 1 || seen[portal.AuditLockoutCleared] != 2 {
		t.Errorf("audited from the command line: %v", seen)
	}
}

// TestUserDisableStopsARunningServer: a user disabled by the command, in
// another process, is refused by the running server at once: their tokens,
// on another's application too, and their application's keys.
func TestUserDisableStopsARunningServer(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, anyPorts...)
	s.admin(t, "alice-password\n", "user create", "--username", "alice")
	s.admin(t, "bob-password\n", "user create", "--username", "bob")
	aliceID, aliceSecret := appKeys(t, s, "--owner", "alice", "--name", "AliceApp")
	bobID, bobSecret := appKeys(t, s, "--owner", "bob", "--name", "BobApp")
	_, tok := postOAuth(t, http.DefaultClient, s.urls["http"]+"/token", bobID, bobSecret,
		url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}})
	access, _ := tok["access_token"].(string)
	for range 2 {
		if !active(t, s, bobID, bobSecret, access) {
			t.Fatal("alice's token is not active")
		}
	}
	s.admin(t, "", "user disable", "--username", "alice")
	if active(t, s, bobID, bobSecret, access) {
		t.Error("alice's token is active after user disable")
	}
	if status, body := postOAuth(t, http.DefaultClient, s.urls["http"]+"/token", aliceID, aliceSecret,
		url.Values{"grant_type": {"client_credentials"}}); status != http.StatusUnauthorized {
		t.Errorf("alice's key: %d %v", status, body)
	}
	if status, body := postOAuth(t, http.DefaultClient, s.urls["http"]+"/token", bobID, bobSecret,
		url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}}); status != http.StatusBadRequest ||
		body["error_description"] != "the account is disabled" {
		t.Errorf("alice's password grant: %d %v", status, body)
	}
	s.admin(t, "", "user enable", "--username", "alice")
	if status, _ := postOAuth(t, http.DefaultClient, s.urls["http"]+"/token", aliceID, aliceSecret,
		url.Values{"grant_type": {"client_credentials"}}); status != http.StatusOK {
		t.Errorf("alice's key once enabled: %d", status)
	}
	if active(t, s, bobID, bobSecret, access) {
		t.Error("the token ended by disabling is active again")
	}
}
