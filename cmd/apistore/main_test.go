package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// bin is the apistore binary built once for these tests.
var bin string

func TestMain(m *testing.M) { fixture.MainWithApistore(m, &bin) }

// server is a running "apistore serve".
type server struct {
	cmd     *exec.Cmd
	dataDir string
	urls    map[string]string // store, https, http
	mu      sync.Mutex
	output  bytes.Buffer
	done    chan struct{}
}

var urlLine = regexp.MustCompile(`^(store|https|http): (\S+)$`)

// startServer runs the binary on dataDir with extra flags and environment
// and waits for its three URLs.
func startServer(t *testing.T, dataDir string, env []string, flags ...string) *server {
	t.Helper()
	s := &server{dataDir: dataDir, urls: map[string]string{}, done: make(chan struct{})}
	// Metrics on any free port unless flags say otherwise: servers run side by side.
	s.cmd = exec.Command(bin, withDatabase(append([]string{"serve", "--data-dir", dataDir, "--metrics-addr", "127.0.0.1:0"}, flags...))...)
	s.cmd.Env = append(os.Environ(), env...)
	stdout, _ := s.cmd.StdoutPipe()
	s.cmd.Stderr = &lockedWriter{s}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.output.WriteString(line + "\n")
			if m := urlLine.FindStringSubmatch(line); m != nil {
				s.urls[m[1]] = m[2]
				if len(s.urls) == 3 {
					close(ready)
				}
			}
			s.mu.Unlock()
		}
		s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.stop(t) })
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("server exited:\n%s", s.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("server printed no URLs:\n%s", s.log())
	}
	return s
}

type lockedWriter struct{ s *server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.output.Write(p)
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("server ignored SIGTERM:\n%s", s.log())
	}
}

// admin runs an admin subcommand ("user create") with flags on the server's
// data directory.
func (s *server) admin(t *testing.T, stdin, command string, flags ...string) string {
	t.Helper()
	args := append(strings.Fields(command), flags...)
	cmd := exec.Command(bin, withDatabase(append(args, "--data-dir", s.dataDir))...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("apistore %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// curl runs the real curl binary with the arguments as written in the docs.
func curl(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-sS"}, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	var body map[string]any
	if err := json.Unmarshal(out, &body); err != nil {
		t.Fatalf("curl %v: not JSON: %q", args, out)
	}
	return body
}

// keys is what "apistore app create" prints.
type keys struct {
	Name       string
	Production struct{ ConsumerKey, ConsumerSecret string }
	Sandbox    struct{ ConsumerKey, ConsumerSecret string }
}

func (k *keys) UnmarshalJSON(b []byte) error {
	var raw struct {
		Name       string
		Production map[string]string
		Sandbox    map[string]string
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	k.Name = raw.Name
	k.Production.ConsumerKey, k.Production.ConsumerSecret = raw.Production["consumer_key"], raw.Production["consumer_secret"]
	k.Sandbox.ConsumerKey, k.Sandbox.ConsumerSecret = raw.Sandbox["consumer_key"], raw.Sandbox["consumer_secret"]
	return nil
}

// TestWSO2CurlCommands runs the Token API docs' curl commands, placeholders
// filled in, against the binary.
func TestWSO2CurlCommands(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, "--store-port", "0", "--https-port", "0", "--http-port", "0")
	s.admin(t, "s3cret-password\n", "user create", "--username", "alice")
	s.admin(t, "", "scope create", "--name", "read", "--description", "Read")
	s.admin(t, "", "scope create", "--name", "update", "--description", "Update")
	var k keys
	if err := json.Unmarshal([]byte(s.admin(t, "", "app create", "--owner", "alice", "--name", "DefaultApplication")), &k); err != nil {
		t.Fatal(err)
	}
	if k.Name != "DefaultApplication" || k.Production.ConsumerSecret == "" || k.Sandbox.ConsumerKey == "" ||
		k.Production.ConsumerKey == k.Sandbox.ConsumerKey {
		t.Fatalf("app create printed %+v", k)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(k.Production.ConsumerKey + ":" + k.Production.ConsumerSecret))
	tokenURL := s.urls["https"] + "/token"

	// The command: scopes read and update, two -H.
	got := curl(t, "-k", "-d", "grant_type=password&username=alice&password=s3cret-password&scope=read update",
		"-H", "Authorization: Basic "+b64, "-H", "Content-Type: application/x-www-form-urlencoded", tokenURL)
	if got["scope"] != "read update" || got["token_type"] != "Bearer" || got["expires_in"] != 3600.0 ||
		got["access_token"] == nil || got["refresh_token"] == nil {
		t.Fatalf("password grant with scopes: %v", got)
	}

	// Token API page: both headers written in one -H.
	got = curl(t, "-k", "-d", "grant_type=password&username=alice&password=s3cret-password",
		"-H", "Authorization: Basic "+b64+", Content-Type: application/x-www-form-urlencoded", tokenURL)
	if got["scope"] != "default" || got["refresh_token"] == nil {
		t.Fatalf("password grant: %v", got)
	}
	got = curl(t, "-k", "-d", "grant_type=password&username=alice&password=s3cret-password&scope=read update",
		"-H", "Authorization: Basic "+b64+", Content-Type: application/x-www-form-urlencoded", tokenURL)
	if got["scope"] != "read update" {
		t.Fatalf("password grant with scopes, one -H: %v", got)
	}

	// Renewing: refresh with scope=PRODUCTION and a trailing comma in the header.
	got = curl(t, "-k", "-v", "-d", "grant_type=refresh_token&refresh_token="+got["refresh_token"].(string)+"&scope=PRODUCTION",
		"-H", "Authorization: Basic "+b64+",", "-H", "Content-Type: application/x-www-form-urlencoded", tokenURL)
	if got["scope"] != "read update" || got["refresh_token"] == nil {
		t.Fatalf("refresh: %v", got)
	}

	// The same over plain HTTP, and a client_credentials token for the app.
	got = curl(t, "-d", "grant_type=client_credentials", "-H", "Authorization: Basic "+b64, s.urls["http"]+"/token")
	if got["scope"] != "default" || got["refresh_token"] != nil || got["expires_in"] != 3600.0 {
		t.Fatalf("client_credentials over HTTP: %v", got)
	}

	// Errors keep the RFC shape.
	got = curl(t, "-k", "-d", "grant_type=password&username=alice&password=wrong", "-H", "Authorization: Basic "+b64, tokenURL)
	if got["error"] != "invalid_grant" {
		t.Fatalf("wrong password: %v", got)
	}
	if strings.Contains(s.log(), "s3cret-password") || strings.Contains(s.log(), k.Production.ConsumerSecret) {
		t.Fatal("a password or secret reached the log")
	}
}

// TestNeverExpiringTokensWarned: a negative validity is allowed, and the
// server warns about it at start.
func TestNeverExpiringTokensWarned(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, "--store-port", "0", "--https-port", "0", "--http-port", "0", "--refresh-token-validity", "-1")
	s.stop(t)
	log := s.log()
	if !strings.Contains(log, "never expire") || !strings.Contains(log, "--refresh-token-validity") || strings.Contains(log, "--app-token-validity") {
		t.Errorf("start-up log does not warn about --refresh-token-validity -1 alone:\n%s", log)
	}
}

// freeOffset finds a port offset whose three default ports are free.
func freeOffset(t *testing.T) int {
	// The ports stay below 32768, where Linux's ephemeral range starts:
	// there the outgoing connections of the tests running meanwhile could
	// take a port between this check and the server's listen.
	for offset := 10000 + os.Getpid()%13000; offset < 23300; offset += 7 {
		ok := true
		for _, p := range []int{9443, 8243, 8280} {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p+offset))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return offset
		}
	}
	t.Fatal("no free port offset")
	return 0
}

// TestPortOffsetEnvAndRestart checks --port-offset, settings from the
// environment, the certificate kept across restarts, and a clean SIGTERM.
func TestPortOffsetEnvAndRestart(t *testing.T) {
	dataDir := newDataDir(t)
	offset := freeOffset(t)
	s := startServer(t, dataDir, []string{"APISTORE_APP_TOKEN_VALIDITY=120"}, "--port-offset", fmt.Sprint(offset))
	want := map[string]string{
		"store": fmt.Sprintf("https://localhost:%d/store", 9443+offset),
		"https": fmt.Sprintf("https://localhost:%d", 8243+offset),
		"http":  fmt.Sprintf("http://localhost:%d", 8280+offset),
	}
	for name, u := range want {
		if s.urls[name] != u {
			t.Errorf("%s URL %q, want %q", name, s.urls[name], u)
		}
	}
	s.admin(t, "", "user create", "--username", "bob", "--password", "bob-password")
	var k keys
	json.Unmarshal([]byte(s.admin(t, "", "app create", "--owner", "bob", "--name", "App", "--grant-types", "client_credentials")), &k)
	got := curl(t, "-d", "grant_type=client_credentials", "-u", k.Sandbox.ConsumerKey+":"+k.Sandbox.ConsumerSecret, s.urls["http"]+"/token")
	if got["expires_in"] != 120.0 {
		t.Fatalf("APISTORE_APP_TOKEN_VALIDITY=120 not applied: %v", got)
	}
	cert, err := os.ReadFile(filepath.Join(dataDir, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s.stop(t)
	if code := s.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(s.log(), "apistore: stopped") {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, s.log())
	}

	s = startServer(t, dataDir, nil, "--store-port", "0", "--https-port", "0", "--http-port", "0")
	again, _ := os.ReadFile(filepath.Join(dataDir, "tls-cert.pem"))
	if !bytes.Equal(cert, again) {
		t.Fatal("the self-signed certificate was made again on restart")
	}
	// Data survives the restart; the default validity is back.
	got = curl(t, "-k", "-d", "grant_type=client_credentials", "-u", k.Production.ConsumerKey+":"+k.Production.ConsumerSecret, s.urls["https"]+"/token")
	if got["expires_in"] != 3600.0 {
		t.Fatalf("after restart: %v", got)
	}
}

func TestAdminCommandErrors(t *testing.T) {
	dataDir := newDataDir(t)
	tests := []struct {
		args   []string
		stdin  string
		code   int
		output string
	}{
		{[]string{"user", "create", "--username", "x"}, "long-enough\n", 1, "username"},
		{[]string{"user", "create", "--username", "carol"}, "", 1, "no password"},
		{[]string{"user", "create", "--username", "carol"}, "short\n", 1, "8 to 256"},
		{[]string{"user", "create", "--username", "carol"}, "long-enough\n", 0, "created user carol"},
		{[]string{"user", "create", "--username", "CAROL"}, "long-enough\n", 1, "already exists"},
		{[]string{"app", "create", "--owner", "nobody", "--name", "A"}, "", 1, `no user "nobody"`},
		{[]string{"app", "create", "--owner", "carol", "--name", "A", "--grant-types", "magic"}, "", 1, "unknown grant type"},
		{[]string{"app", "create", "--owner", "carol", "--name", "A", "--callback-url", "http://example.com/cb"}, "", 1, "loopback"},
		{[]string{"app", "create", "--owner", "carol", "--name", "A"}, "", 0, "consumer_secret"},
		{[]string{"app", "create", "--owner", "carol", "--name", "a"}, "", 1, "already has an application"},
		{[]string{"app", "create", "--owner", "carol", "--name", "B", "--tier", "Platinum"}, "", 1, `--tier must be one of Unlimited, Gold, Silver, Bronze, not "Platinum"`},
		{[]string{"scope", "create", "--name", "bad scope"}, "", 1, "scope name"},
		{[]string{"frobnicate"}, "", 2, "unknown command"},
		{[]string{"serve", "--user-token-validity", "0"}, "", 1, "must not be 0"},
		{[]string{"serve", "--help"}, "", 0, "APISTORE_USER_TOKEN_VALIDITY"},
		{[]string{"serve", "--body-timeout", "0s"}, "", 1, "--header-timeout and --body-timeout must be positive"},
		{[]string{"serve", "--max-conns-per-address", "-1"}, "", 1, "--max-conns-per-address must not be negative"},
		{[]string{"serve", "--port-offset", "-10000"}, "", 1, "--port-offset -10000 takes --store-port 9443 outside 1 to 65535"},
		{[]string{"serve", "--port-offset", "60000"}, "", 1, "--port-offset 60000 takes --store-port 9443 outside 1 to 65535"},
		{[]string{"serve", "--port-offset", "9223372036854775807"}, "", 1, "outside 1 to 65535"},
		{[]string{"serve", "--store-port", "0", "--https-port", "70000"}, "", 1, "--https-port 70000 is not a port"},
		{[]string{"serve", "--app-token-validity", "18446744074", "--store-port", "-1"}, "", 1, "--app-token-validity 18446744074 is more than 9223372036 seconds"},
		{[]string{"serve", "--code-validity", "99999999999", "--store-port", "-1"}, "", 1, "--code-validity 99999999999 is more than"},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, withDatabase(append(tt.args, "--data-dir", dataDir))...)
		cmd.Stdin = strings.NewReader(tt.stdin)
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != tt.code || !strings.Contains(string(out), tt.output) {
			t.Errorf("apistore %v: exit %d, output %q; want exit %d and %q", tt.args, cmd.ProcessState.ExitCode(), out, tt.code, tt.output)
		}
	}
}

// TestCommandLineMistakes checks that a mistake on the command line is one
// line on stderr, naming the command, with exit status 2 and nothing on
// stdout, and that "apistore --help" lists the commands.
func TestCommandLineMistakes(t *testing.T) {
	dataDir := newDataDir(t)
	tests := []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--bogus"}, "", "apistore serve: flag provided but not defined: -bogus"},
		{[]string{"serve", "--port-offset", "abc"}, "", `apistore serve: invalid value "abc" for flag -port-offset`},
		{[]string{"serve", "extra"}, "", `apistore serve: unexpected argument "extra"`},
		{[]string{"serve"}, "APISTORE_PORT_OFFSET=abc", `apistore serve: APISTORE_PORT_OFFSET="abc"`},
		{[]string{"user", "create", "--bogus"}, "", "apistore user create: flag provided but not defined: -bogus"},
		{[]string{"backup", "--data-dir"}, "", "apistore backup: flag needs an argument: -data-dir"},
		{[]string{"serve", "--public-url", "api.example.com"}, "", `apistore serve: invalid value "api.example.com" for flag -public-url: want an http or https URL`},
		{[]string{"serve", "--public-url", "https://api.example.com/v1"}, "", `apistore serve: invalid value "https://api.example.com/v1" for flag -public-url: want the scheme, host and port alone`},
		{[]string{"serve", "--store-public-url", "http://portal.example.com"}, "", `apistore serve: invalid value "http://portal.example.com" for flag -store-public-url: the store's URL must be https`},
		{[]string{"serve"}, "APISTORE_TRUSTED_PROXIES=10.0.0.0/8,proxy.local", `apistore serve: APISTORE_TRUSTED_PROXIES="10.0.0.0/8,proxy.local": "proxy.local" is neither an address nor a CIDR range`},
		{[]string{"serve", "--gateway-drop-response-headers", "Server,X:Node"}, "", `apistore serve: invalid value "Server,X:Node" for flag -gateway-drop-response-headers: "X:Node" is not a header name`},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		cmd.Dir = dataDir
		cmd.Env = append(os.Environ(), tt.env)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Run()
		lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
		if code := cmd.ProcessState.ExitCode(); code != 2 || stdout.Len() > 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], tt.want) {
			t.Errorf("%s apistore %v: exit %d, stdout %q, stderr %q; want exit 2, no stdout, one line %q",
				tt.env, tt.args, code, stdout.String(), stderr.String(), tt.want)
		}
	}
	out, err := exec.Command(bin, "--help").Output()
	if err != nil || !strings.Contains(string(out), "apistore user create") || !strings.Contains(string(out), "apistore backup FILE") {
		t.Errorf("apistore --help: %v, %q; want the list of commands", err, out)
	}
}

// TestCorruptDatabase checks that every command refuses a damaged database
// file with an error naming it, and leaves the file as it was.
func TestCorruptDatabase(t *testing.T) {
	if fixture.Postgres() {
		t.Skip("a corrupt file is SQLite's; PostgreSQL guards its own files")
	}
	dataDir := newDataDir(t)
	path := filepath.Join(dataDir, "apistore.db")
	junk := bytes.Repeat([]byte("not a database "), 1000)
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"serve", "--store-port", "0", "--https-port", "0", "--http-port", "0"},
		{"user", "create", "--username", "carol", "--password", "long-enough"},
		{"user", "delete", "--username", "carol"},
		{"scope", "create", "--name", "read"},
	} {
		cmd := exec.Command(bin, withDatabase(append(args, "--data-dir", dataDir))...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), path+": ") ||
			!strings.Contains(string(out), "not a database") || strings.Contains(string(out), "goroutine") {
			t.Errorf("apistore %v: exit %d, output %q; want exit 1 and an error naming %s", args, code, out, path)
		}
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, junk) {
		t.Error("the damaged database file was changed")
	}
}

// TestServeThatCannotStart checks that a server that fails to start says
// why, and does not claim to have stopped.
func TestServeThatCannotStart(t *testing.T) {
	dataDir := newDataDir(t)
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--store-port", "0", "--https-port", "0", "--http-port", "0",
		"--tls-cert", filepath.Join(dataDir, "missing.pem"), "--tls-key", filepath.Join(dataDir, "missing.key"))
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), "missing.pem") ||
		strings.Contains(string(out), "stopped") {
		t.Errorf("exit %d, output %q; want exit 1, the missing file named and no \"stopped\"", code, out)
	}
}

// TestScopeCreateChangesOnlyGivenFlags: running scope create again to fix a
// description keeps the scope's roles; --roles "" opens it to anyone.
func TestScopeCreateChangesOnlyGivenFlags(t *testing.T) {
	s := &server{dataDir: newDataDir(t)}
	s.admin(t, "", "scope create", "--name", "update", "--description", "Change orders", "--roles", "admin,publisher")
	s.admin(t, "", "scope create", "--name", "update", "--description", "Change or cancel orders")
	scope := func() oauth.Scope {
		d := openStore(t, s.dataDir)
		list, err := d.ScopesByName(context.Background(), "", []string{"update"})
		if err != nil || len(list) != 1 {
			t.Fatalf("scope update: %v, %v", list, err)
		}
		return list[0]
	}
	if sc := scope(); sc.Description != "Change or cancel orders" || strings.Join(sc.Roles, ",") != "admin,publisher" {
		t.Errorf("after changing the description: %+v, want the roles kept", sc)
	}
	s.admin(t, "", "scope create", "--name", "update", "--roles", "")
	if sc := scope(); sc.Description != "Change or cancel orders" || len(sc.Roles) != 0 {
		t.Errorf("after --roles \"\": %+v, want no roles and the description kept", sc)
	}
}

// TestEmptyEnvironmentVariable: an empty APISTORE_ variable is unset, so the
// flag keeps its default.
func TestEmptyEnvironmentVariable(t *testing.T) {
	s := &server{dataDir: newDataDir(t)}
	s.admin(t, "alice-password\n", "user create", "--username", "alice")
	cmd := exec.Command(bin, withDatabase([]string{"app", "create", "--owner", "alice", "--name", "App", "--data-dir", s.dataDir})...)
	cmd.Env = append(os.Environ(), "APISTORE_TIER=", "APISTORE_GRANT_TYPES=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("app create with empty APISTORE_TIER and APISTORE_GRANT_TYPES: %v\n%s", err, out)
	}
}
