package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/internal/pgtest"
	"github.com/apistore/apistore/portal"
)

// anyPorts runs the binary on free ports.
var anyPorts = []string{"--store-port", "0", "--https-port", "0", "--http-port", "0"}

// postOAuth posts a form to an OAuth endpoint with HTTP Basic client
// authentication and decodes the JSON answer (nil for an empty body).
func postOAuth(t *testing.T, c *http.Client, target, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("POST %s: not JSON: %q", target, b)
		}
	}
	return resp.StatusCode, body
}

// appKeys runs "apistore app create" and returns its production key.
func appKeys(t *testing.T, s *server, flags ...string) (id, secret string) {
	t.Helper()
	var k keys
	if err := json.Unmarshal([]byte(s.admin(t, "", "app create", flags...)), &k); err != nil {
		t.Fatal(err)
	}
	return k.Production.ConsumerKey, k.Production.ConsumerSecret
}

// active asks /introspect whether a token is valid.
func active(t *testing.T, s *server, id, secret, token string) bool {
	t.Helper()
	status, body := postOAuth(t, http.DefaultClient, s.urls["http"]+"/introspect", id, secret, url.Values{"token": {token}})
	if status != http.StatusOK {
		t.Fatalf("introspect: %d %v", status, body)
	}
	return body["active"] == true
}

// TestProbesAndHSTSOnEveryListener: /healthz and /readyz answer on the
// three ports; the two HTTPS ports send HSTS and speak HTTP/2, the HTTP port
// does neither.
func TestProbesAndHSTSOnEveryListener(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, anyPorts...)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	for name, base := range s.urls {
		base = strings.TrimSuffix(base, "/store")
		for _, path := range []string{"/healthz", "/readyz", "/token"} {
			resp, err := c.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 2}[name == "http"]; resp.ProtoMajor != want {
				t.Errorf("%s %s: answered in %s, want HTTP/%d", name, path, resp.Proto, want)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if path != "/token" && (resp.StatusCode != http.StatusOK || string(body) != "ok\n") {
				t.Errorf("%s %s: %d %q", name, path, resp.StatusCode, body)
			}
			hsts := resp.Header.Get("Strict-Transport-Security")
			if (name == "http") != (hsts == "") || (hsts != "" && hsts != "max-age=31536000") {
				t.Errorf("%s %s: Strict-Transport-Security %q", name, path, hsts)
			}
		}
	}
}

// TestBackupWhileServingAndStartOnTheCopy copies the database while tokens
// are being issued, then starts a second server on the copy: the tokens
// issued before the backup are valid there.
func TestBackupWhileServingAndStartOnTheCopy(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, anyPorts...)
	s.admin(t, "alice-password\n", "user create", "--username", "alice")
	id, secret := appKeys(t, s, "--owner", "alice", "--name", "Backed")
	issue := func() string {
		status, body := postOAuth(t, http.DefaultClient, s.urls["http"]+"/token", id, secret,
			url.Values{"grant_type": {"client_credentials"}})
		if status != http.StatusOK {
			t.Errorf("token: %d %v", status, body)
			return ""
		}
		return body["access_token"].(string)
	}
	before := issue()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				issue()
			}
		}
	}()
	// On PostgreSQL the copy's database is an empty one, for pg_restore
	// to make the schema in.
	copyDir := t.TempDir()
	if fixture.Postgres() {
		databases.Store(copyDir, pgtest.NewDatabase(t))
	}
	out := s.admin(t, "", "backup", filepath.Join(copyDir, "apistore.db"))
	close(stop)
	<-done
	if !strings.Contains(out, "backed up") {
		t.Errorf("backup printed %q", out)
	}
	// A second backup to the same file refuses to overwrite it.
	cmd := exec.Command(bin, withDatabase([]string{"backup", filepath.Join(copyDir, "apistore.db"), "--data-dir", s.dataDir})...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "already exists") {
		t.Errorf("backup over an existing file: %v %s", err, out)
	}
	if fixture.Postgres() {
		// pg_dump's archive, restored into the copy's own database.
		restore := exec.Command("pg_restore", "--no-owner", "--dbname="+databaseOf(copyDir), filepath.Join(copyDir, "apistore.db"))
		if out, err := restore.CombinedOutput(); err != nil {
			t.Fatalf("pg_restore: %v\n%s", err, out)
		}
	}
	restored := startServer(t, copyDir, nil, anyPorts...)
	if !active(t, restored, id, secret, before) {
		t.Error("a token issued before the backup is not valid on the copy")
	}
	if status, _ := fetch(t, storeClient(), http.MethodGet, restored.urls["http"]+"/readyz", nil); status != http.StatusOK {
		t.Errorf("readyz on the copy: %d", status)
	}
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)

// submitForm posts the last form of page to its action, with its hidden
// fields and extra.
func submitForm(t *testing.T, c *http.Client, pageURL, page string, extra url.Values) (*http.Response, string) {
	t.Helper()
	actions := regexp.MustCompile(`<form[^>]* method="post" action="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(actions) == 0 {
		t.Fatalf("no form on %s:\n%s", pageURL, page)
	}
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	for k, v := range extra {
		form[k] = v
	}
	base, _ := url.Parse(pageURL)
	to, _ := base.Parse(html.UnescapeString(actions[len(actions)-1][1]))
	resp, err := c.PostForm(to.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestLogsHoldNoSecrets runs every flow through the binary (store log-in,
// consent and the code grant with PKCE, every token grant, refresh,
// introspection, revocation, key and secret regeneration, failed log-ins),
// then reads every line it logged: none holds a password, secret, code,
// verifier or token used, nor its base64 form.
func TestLogsHoldNoSecrets(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, append(anyPorts, "--log-format", "json")...)
	const password, wrongPassword = "alice-Pa55word", "not-alices-password"
	s.admin(t, password+"\n", "user create", "--username", "alice", "--role", "subscriber,admin")
	const callbackURL = "https://client.example.com/cb"
	id, secret := appKeys(t, s, "--owner", "alice", "--name", "Logged", "--callback-url", callbackURL,
		"--grant-types", "password,client_credentials,authorization_code,refresh_token,implicit")
	secrets := []string{password, wrongPassword, secret}
	keep := func(body map[string]any, fields ...string) {
		for _, f := range fields {
			if v, ok := body[f].(string); ok && v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	tokenURL := s.urls["https"] + "/token"
	c := storeClient()

	// Store log-in: a wrong password, then the right one.
	_, page := fetch(t, c, http.MethodGet, s.urls["store"]+"/login", nil)
	if resp, _ := submitForm(t, c, s.urls["store"]+"/login", page, url.Values{"username": {"alice"}, "password": {wrongPassword}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if resp, _ := submitForm(t, c, s.urls["store"]+"/login", page, url.Values{"username": {"alice"}, "password": {password}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log in: %d", resp.StatusCode)
	}
	// The code grant with PKCE, through the consent page.
	verifier := "a-pkce-verifier-that-is-long-enough-0123456789-abcdefghij"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	secrets = append(secrets, verifier)
	authURL := s.urls["https"] + "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {id},
		"redirect_uri": {callbackURL}, "state": {"st-123"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}.Encode()
	status, consent := fetch(t, c, http.MethodGet, authURL, nil)
	if status != http.StatusOK {
		t.Fatalf("consent page: %d\n%s", status, consent)
	}
	resp, _ := submitForm(t, c, authURL, consent, url.Values{"decision": {"approve"}})
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if resp.StatusCode != http.StatusFound || code == "" {
		t.Fatalf("approve: %d %s", resp.StatusCode, loc)
	}
	secrets = append(secrets, code)
	status, body := postOAuth(t, c, tokenURL, id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {callbackURL}, "code_verifier": {verifier}})
	if status != http.StatusOK {
		t.Fatalf("code exchange: %d %v", status, body)
	}
	keep(body, "access_token", "refresh_token")

	// Every token grant, a refresh, introspection and both kinds of revocation.
	_, body = postOAuth(t, c, tokenURL, id, secret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}})
	keep(body, "access_token", "refresh_token")
	refreshed := body["refresh_token"].(string)
	postOAuth(t, c, tokenURL, id, secret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {wrongPassword}})
	postOAuth(t, c, tokenURL, id, wrongPassword, url.Values{"grant_type": {"client_credentials"}})
	_, body = postOAuth(t, c, tokenURL, id, secret, url.Values{"grant_type": {"client_credentials"}})
	keep(body, "access_token")
	app := body["access_token"].(string)
	_, body = postOAuth(t, c, tokenURL, id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshed}})
	keep(body, "access_token", "refresh_token")
	if !active(t, s, id, secret, app) {
		t.Fatal("application token inactive")
	}
	postOAuth(t, c, s.urls["http"]+"/revoke", id, secret, url.Values{"token": {app}})
	postOAuth(t, c, s.urls["http"]+"/revoke", id, secret, url.Values{"token": {body["refresh_token"].(string)}})

	// The audit trail, for the admin alice, shows the security events and no secret either.
	status, audit := fetch(t, c, http.MethodGet, s.urls["store"]+"/admin/audit", nil)
	if status != http.StatusOK {
		t.Fatalf("audit trail: %d", status)
	}
	for _, ev := range []string{"login_failed", "client_auth_failed", "consent_granted", "token_revoked"} {
		if !strings.Contains(audit, ev) {
			t.Errorf("audit trail lacks %s:\n%s", ev, audit)
		}
	}
	s.stop(t)
	logs := s.log() + audit
	for _, sec := range secrets {
		for _, form := range []string{sec, url.QueryEscape(sec), base64.StdEncoding.EncodeToString([]byte(id + ":" + sec))} {
			if strings.Contains(logs, form) {
				t.Errorf("the logs hold %q:\n%s", form, logs)
			}
		}
	}
	if n := strings.Count(logs, `"msg":"request"`); n < 10 {
		t.Errorf("%d request lines logged, want every request:\n%s", n, logs)
	}
}

// TestStrictFlag: serve --strict refuses the password grant and leaves it
// out of the discovery document.
func TestStrictFlag(t *testing.T) {
	s := startServer(t, newDataDir(t), []string{"APISTORE_STRICT=true"}, anyPorts...)
	s.admin(t, "alice-password\n", "user create", "--username", "alice")
	id, secret := appKeys(t, s, "--owner", "alice", "--name", "Strict")
	status, body := postOAuth(t, http.DefaultClient, s.urls["http"]+"/token", id, secret,
		url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}})
	if status != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
		t.Errorf("password grant with --strict: %d %v", status, body)
	}
	if status, _ := postOAuth(t, http.DefaultClient, s.urls["http"]+"/token", id, secret, url.Values{"grant_type": {"client_credentials"}}); status != http.StatusOK {
		t.Errorf("client_credentials with --strict: %d", status)
	}
	_, doc := fetch(t, storeClient(), http.MethodGet, s.urls["http"]+"/.well-known/oauth-authorization-server", nil)
	if strings.Contains(doc, `"password"`) || strings.Contains(doc, `"plain"`) || !strings.Contains(doc, `"S256"`) {
		t.Errorf("discovery with --strict: %s", doc)
	}
}

// TestAdminCommandsAreAudited: the admin subcommands that change who may do
// what leave an event each in the audit trail, marked as from the command
// line, with no password or secret in it.
func TestAdminCommandsAreAudited(t *testing.T) {
	dir := newDataDir(t)
	run := func(stdin, command string, flags ...string) string {
		t.Helper()
		cmd := exec.Command(bin, withDatabase(append(append(strings.Fields(command), flags...), "--data-dir", dir))...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("apistore %s: %v\n%s", command, err, out)
		}
		return string(out)
	}
	run("carol-password-1\n", "user create", "--username", "carol", "--role", "subscriber,admin")
	keysJSON := run("", "app create", "--owner", "carol", "--name", "CarolsApp")
	run("", "scope create", "--name", "write", "--roles", "admin")
	run("", "user delete", "--username", "carol")
	d := openStore(t, dir)
	events, err := d.AuditEvents(t.Context(), portal.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var k keys
	if err := json.Unmarshal([]byte(keysJSON), &k); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		got = append([]string{e.Event}, got...)
		if e.Remote != "command line" {
			t.Errorf("%s: address %q", e.Event, e.Remote)
		}
		all := e.Username + e.Client + e.Detail
		if strings.Contains(all, "carol-password-1") || strings.Contains(all, k.Production.ConsumerSecret) {
			t.Errorf("%s holds a secret: %+v", e.Event, e)
		}
		if e.Event == "application_created" && !strings.Contains(e.Client, k.Production.ConsumerKey) {
			t.Errorf("application_created: Client %q, want the consumer keys", e.Client)
		}
	}
	if want := "user_created application_created scope_changed user_deleted"; strings.Join(got, " ") != want {
		t.Errorf("events %v, want %s", got, want)
	}
}

// TestSIGHUPKeepsServing: SIGHUP, which a closed terminal sends, neither
// kills the server nor stops it; it says it ignored the signal.
func TestSIGHUPKeepsServing(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, anyPorts...)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.log(), "SIGHUP ignored") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-s.done:
		t.Fatalf("SIGHUP ended the server:\n%s", s.log())
	default:
	}
	resp, err := http.Get(s.urls["http"] + "/healthz")
	if err != nil {
		t.Fatalf("after SIGHUP: %v\n%s", err, s.log())
	}
	resp.Body.Close()
	if !strings.Contains(s.log(), "SIGHUP ignored") {
		t.Errorf("no word of the SIGHUP:\n%s", s.log())
	}
}

// TestPrintedURLsFollowBind: with --bind, the printed URLs name the address
// that listens (localhost may not be it), and they answer.
func TestPrintedURLsFollowBind(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, append(anyPorts, "--bind", "127.0.0.1")...)
	for name, u := range s.urls {
		parsed, err := url.Parse(u)
		if err != nil || parsed.Hostname() != "127.0.0.1" {
			t.Errorf("%s: %s, want the host 127.0.0.1", name, u)
		}
	}
	resp, err := http.Get(s.urls["http"] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestListensOnLoopbackByDefault: without --bind, the server answers on
// loopback only, so a first run on a laptop or a shared host is not open to
// the network; --bind :: opens every interface, with a warning that the
// URLs apistore writes name localhost without --public-url.
func TestListensOnLoopbackByDefault(t *testing.T) {
	external := nonLoopbackAddress(t)
	for _, tt := range []struct {
		flags []string
		open  bool
	}{
		{nil, false},
		{[]string{"--bind", "::"}, true},
	} {
		s := startServer(t, t.TempDir(), nil, append(anyPorts, tt.flags...)...)
		for name, u := range s.urls {
			parsed, _ := url.Parse(u)
			if parsed.Hostname() != "localhost" {
				t.Errorf("%v: %s is %s, want localhost", tt.flags, name, u)
			}
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(external.String(), parsed.Port()), 2*time.Second)
			if err == nil {
				conn.Close()
			}
			if open := err == nil; open != tt.open {
				t.Errorf("%v: %s port from %s: reachable %v, want %v (%v)", tt.flags, name, external, open, tt.open, err)
			}
			if conn, err := net.DialTimeout("tcp", "localhost:"+parsed.Port(), 2*time.Second); err != nil {
				t.Errorf("%v: %s port on localhost: %v", tt.flags, name, err)
			} else {
				conn.Close()
			}
		}
		if warned := strings.Contains(s.log(), "without --public-url"); warned != tt.open {
			t.Errorf("%v: warned about URLs naming localhost: %v, want %v", tt.flags, warned, tt.open)
		}
		s.stop(t)
	}
}

// nonLoopbackAddress is an address of this machine other than loopback's,
// one a remote client could connect to; the test is skipped without one.
func nonLoopbackAddress(t *testing.T) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && !p.Addr().IsLoopback() && !p.Addr().IsLinkLocalUnicast() {
			return p.Addr()
		}
	}
	t.Skip("no network address besides loopback")
	return netip.Addr{}
}
