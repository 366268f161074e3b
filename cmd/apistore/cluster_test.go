package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/internal/pgtest"
)

// cluster is several "apistore serve" nodes on one PostgreSQL database,
// each with a data directory of its own (its TLS certificate).
type cluster struct {
	nodes []*server
	dirs  []string
}

// newCluster starts n nodes on a fresh PostgreSQL database, all naming the
// public URLs of the nginx in front of them (lb, not started yet).
func newCluster(t *testing.T, n int, lb *balancer, flags ...string) *cluster {
	t.Helper()
	if pgtest.AdminURL() == "" {
		t.Skip("a cluster needs PostgreSQL: run under scripts/postgres.sh run (make test does)")
	}
	dbURL := fixture.PostgresDatabase(t)
	c := &cluster{}
	flags = append(flags, "--public-url", lb.apiURL, "--store-public-url", lb.storeURL, "--trusted-proxies", "127.0.0.1")
	for range n {
		dir := t.TempDir()
		databases.Store(dir, dbURL)
		c.dirs = append(c.dirs, dir)
		c.nodes = append(c.nodes, startServer(t, dir, nil, append(anyPorts, flags...)...))
	}
	return c
}

// balancer is nginx in front of a cluster, with docs/cluster/nginx.conf,
// the README's example, as its configuration.
type balancer struct {
	apiPort, storePort int
	apiURL, storeURL   string
}

// newBalancer picks nginx's ports.
func newBalancer(t *testing.T) *balancer {
	offset := freeOffset(t)
	lb := &balancer{apiPort: 8243 + offset, storePort: 9443 + offset}
	lb.apiURL = fmt.Sprintf("https://127.0.0.1:%d", lb.apiPort)
	lb.storeURL = fmt.Sprintf("https://127.0.0.1:%d", lb.storePort)
	return lb
}

// start runs nginx with the example configuration, its addresses replaced
// by the cluster's nodes, its ports by lb's and its certificate by the
// first node's.
func (lb *balancer) start(t *testing.T, c *cluster) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			t.Skip("nginx is not installed (make test installs it)")
		}
	}
	example, err := os.ReadFile("../../docs/cluster/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(example)
	for i, n := range c.nodes {
		conf = strings.Replace(conf, fmt.Sprintf("10.0.0.1%d:8280", i+1), strings.TrimPrefix(n.urls["http"], "http://"), 1)
		conf = strings.Replace(conf, fmt.Sprintf("10.0.0.1%d:9443", i+1), hostPort(t, n.urls["store"]), 1)
	}
	conf = strings.Replace(conf, "listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", lb.apiPort), 1)
	conf = strings.Replace(conf, "listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", lb.storePort), 1)
	conf = strings.ReplaceAll(conf, "/etc/nginx/tls/apistore.pem", filepath.Join(c.dirs[0], "tls-cert.pem"))
	conf = strings.ReplaceAll(conf, "/etc/nginx/tls/apistore.key", filepath.Join(c.dirs[0], "tls-key.pem"))
	if strings.Contains(conf, "server 10.0.0.") || strings.Contains(conf, "listen 443") {
		t.Fatalf("docs/cluster/nginx.conf no longer has the addresses this test replaces:\n%s", conf)
	}
	dir := t.TempDir()
	user := ""
	if os.Getuid() == 0 {
		user = "user root;" // its workers read the temporary files under dir
	}
	main := fmt.Sprintf(`%s
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events {}
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    include %[2]s/apistore.conf;
}
`, user, dir)
	if err := os.WriteFile(filepath.Join(dir, "apistore.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lb.storePort)); err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %s\n%s", out.String(), log)
		}
	}
}

// hostPort is a URL's host and port.
func hostPort(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// node is the i-th node, counting round.
func (c *cluster) node(i int) *server { return c.nodes[i%len(c.nodes)] }

// member is a user with an application subscribed to the sample API.
type member struct {
	name, password string
	appID, apiID   int64
	id, secret     string // production key
}

// addMember makes a user with an application subscribed to the sample API
// on tier, with the admin commands and the store.
func (c *cluster) addMember(t *testing.T, name, tier string) *member {
	t.Helper()
	m := &member{name: name, password: name + "-password"}
	c.nodes[0].admin(t, m.password+"\n", "user create", "--username", name)
	m.id, m.secret = appKeys(t, c.nodes[0], "--owner", name, "--name", name+"-app", "--tier", tier)
	d := openStore(t, c.dirs[0])
	ctx := context.Background()
	u, err := d.UserAccount(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := d.ApplicationsByOwner(ctx, u.ID)
	if err != nil || len(apps) != 1 {
		t.Fatalf("applications of %s: %v %v", name, apps, err)
	}
	api, err := d.APIByContext(ctx, "/pizzashack", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	m.appID, m.apiID = apps[0].ID, api.ID
	if err := d.Subscribe(ctx, m.appID, m.apiID, tier); err != nil {
		t.Fatal(err)
	}
	return m
}

// appToken gets a client_credentials token of m's production key from s.
func appToken(t *testing.T, s *server, m *member) string {
	t.Helper()
	status, body := postOAuth(t, http.DefaultClient, s.urls["http"]+"/token", m.id, m.secret,
		url.Values{"grant_type": {"client_credentials"}})
	if status != http.StatusOK {
		t.Fatalf("token from %s: %d %v", s.urls["http"], status, body)
	}
	return body["access_token"].(string)
}

// menu calls the sample API through s's gateway and returns the status.
func menu(t *testing.T, s *server, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.urls["http"]+"/pizzashack/1.0.0/menu", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// logIn logs m in on s's store and returns the browser and its form token.
func logIn(t *testing.T, s *server, m *member) (*http.Client, string) {
	t.Helper()
	c := storeClient()
	_, page := fetch(t, c, http.MethodGet, s.urls["store"]+"/login", nil)
	if resp, _ := submitForm(t, c, s.urls["store"]+"/login", page, url.Values{"username": {m.name}, "password": {m.password}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log in on %s: %d", s.urls["store"], resp.StatusCode)
	}
	return c, csrfOf(t, c, s)
}

// csrfOf reads the form token of c's session from a store page of s.
func csrfOf(t *testing.T, c *http.Client, s *server) string {
	t.Helper()
	_, page := fetch(t, c, http.MethodGet, s.urls["store"], nil)
	m := csrfMeta.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token on %s", s.urls["store"])
	}
	return m[1]
}

// storePost submits a store form on s (the browser's cookies go to every
// node: cookies ignore ports) and checks it was done (a redirect, or the
// page that shows a new token).
func storePost(t *testing.T, c *http.Client, s *server, csrf, path string, form url.Values) {
	t.Helper()
	form.Set("csrf_token", csrf)
	if status, body := fetch(t, c, http.MethodPost, "https://"+hostPort(t, s.urls["store"])+path, form); status != http.StatusSeeOther && status != http.StatusOK {
		t.Fatalf("POST %s on %s: %d\n%s", path, s.urls["store"], status, body)
	}
}

// TestCluster runs three nodes on one PostgreSQL database and checks that
// they behave as one server.
func TestCluster(t *testing.T) {
	lb := newBalancer(t)
	c := newCluster(t, 3, lb, "--tier-gold", "60")
	alice := c.addMember(t, "alice", "Unlimited")

	t.Run("behind nginx, as the README shows", func(t *testing.T) {
		lb.start(t, c)
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		issuers := map[string]bool{}
		for i := range 3 {
			resp, err := client.Get(c.node(i).urls["http"] + "/.well-known/oauth-authorization-server")
			if err != nil {
				t.Fatal(err)
			}
			var meta map[string]any
			if err := decodeJSON(resp, &meta); err != nil {
				t.Fatal(err)
			}
			issuers[fmt.Sprint(meta["issuer"])] = true
		}
		if len(issuers) != 1 || !issuers[lb.apiURL] {
			t.Errorf("the nodes' issuers: %v, want %s on every node", issuers, lb.apiURL)
		}
		for range 6 { // each node, twice, in nginx's turn
			status, body := postOAuth(t, client, lb.apiURL+"/token", alice.id, alice.secret, url.Values{"grant_type": {"client_credentials"}})
			if status != http.StatusOK {
				t.Fatalf("token through nginx: %d %v", status, body)
			}
			req, _ := http.NewRequest(http.MethodGet, lb.apiURL+"/pizzashack/1.0.0/menu", nil)
			req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("gateway through nginx: %d", resp.StatusCode)
			}
		}
		browser := storeClient()
		_, page := fetch(t, browser, http.MethodGet, lb.storeURL+"/store/login", nil)
		if resp, _ := submitForm(t, browser, lb.storeURL+"/store/login", page, url.Values{"username": {"alice"}, "password": {alice.password}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("log in through nginx: %d", resp.StatusCode)
		}
		for range 3 {
			if status, page := fetch(t, browser, http.MethodGet, lb.storeURL+"/store/applications", nil); status != http.StatusOK || !strings.Contains(page, "alice-app") {
				t.Fatalf("a store page through nginx: %d", status)
			}
		}
	})

	t.Run("a token from one node works on the others", func(t *testing.T) {
		token := appToken(t, c.node(0), alice)
		for i := 1; i < 3; i++ {
			if status := menu(t, c.node(i), token); status != http.StatusOK {
				t.Errorf("node %d: %d", i+1, status)
			}
		}
	})

	t.Run("access ended on one node ends on every node at once", func(t *testing.T) {
		browser, csrf := logIn(t, c.node(0), alice)
		admitted := map[string]int{}
		const rounds = 1000
		for i := range rounds {
			a, b, other := c.node(i), c.node(i+1), c.node(i+2)
			m, kind := alice, []string{"revoke", "re-generate", "unsubscribe", "revoke"}[i%4]
			if i%50 == 3 {
				kind = "delete user"
				m = c.addMember(t, fmt.Sprintf("doomed%d", i), "Unlimited")
			}
			token := appToken(t, other, m)
			if status := menu(t, b, token); status != http.StatusOK {
				t.Fatalf("round %d: before the %s, node %s answered %d", i, kind, b.urls["http"], status)
			}
			switch kind {
			case "revoke":
				if status, body := postOAuth(t, http.DefaultClient, a.urls["http"]+"/revoke", m.id, m.secret,
					url.Values{"token": {token}}); status != http.StatusOK {
					t.Fatalf("revoke: %d %v", status, body)
				}
			case "re-generate":
				storePost(t, browser, a, csrf, fmt.Sprintf("/store/subscriptions/%d/production/token", m.appID), url.Values{})
			case "unsubscribe":
				storePost(t, browser, a, csrf, fmt.Sprintf("/store/applications/%d/unsubscribe", m.appID),
					url.Values{"api": {fmt.Sprint(m.apiID)}})
			case "delete user":
				a.admin(t, "", "user delete", "--username", m.name)
			}
			if status := menu(t, b, token); status == http.StatusOK {
				admitted[kind]++
			}
			if kind == "unsubscribe" {
				storePost(t, browser, other, csrf, fmt.Sprintf("/store/apis/%d/subscribe", m.apiID),
					url.Values{"app": {fmt.Sprint(m.appID)}, "tier": {"Unlimited"}})
			}
		}
		if len(admitted) > 0 {
			t.Errorf("calls admitted right after access ended on another node: %v", admitted)
		}
	})

	t.Run("a store session works on every node until logged out on any", func(t *testing.T) {
		browser, csrf := logIn(t, c.node(0), alice)
		if status, page := fetch(t, browser, http.MethodGet, c.node(2).urls["store"]+"/applications", nil); status != http.StatusOK ||
			!strings.Contains(page, "alice-app") {
			t.Fatalf("node 3 with node 1's session: %d", status)
		}
		storePost(t, browser, c.node(2), csrf, "/store/logout", url.Values{})
		if status, _ := fetch(t, browser, http.MethodGet, c.node(0).urls["store"]+"/applications", nil); status != http.StatusSeeOther {
			t.Fatalf("node 1 after logging out on node 3: %d, want the log-in page", status)
		}
	})

	t.Run("failed log-ins lock on every node", func(t *testing.T) {
		victim := c.addMember(t, "victim", "Unlimited")
		password := func(s *server, pw string) int {
			status, _ := postOAuth(t, http.DefaultClient, s.urls["http"]+"/token", victim.id, victim.secret,
				url.Values{"grant_type": {"password"}, "username": {"victim"}, "password": {pw}})
			return status
		}
		for i := range 5 {
			if status := password(c.node(i), "wrong-password"); status != http.StatusBadRequest {
				t.Fatalf("failure %d on node %d: %d", i+1, i%3+1, status)
			}
		}
		for i := range 3 {
			if status := password(c.node(i), victim.password); status != http.StatusTooManyRequests {
				t.Errorf("the right password on node %d after five failures spread over the nodes: %d, want 429", i+1, status)
			}
		}
	})

	t.Run("a tier limit holds across the nodes", func(t *testing.T) {
		metered := c.addMember(t, "metered", "Gold") // 60 a minute
		token := appToken(t, c.node(0), metered)
		if s := time.Now().Second(); s > 55 { // all calls in one window
			time.Sleep(time.Duration(61-s) * time.Second)
		}
		admitted, throttled := 0, 0
		for i := range 90 {
			switch status := menu(t, c.node(i), token); status {
			case http.StatusOK:
				admitted++
			case http.StatusTooManyRequests:
				throttled++
			default:
				t.Fatalf("call %d: %d", i, status)
			}
		}
		if admitted < 60 || admitted > 66 {
			t.Errorf("%d of 90 calls admitted on a limit of 60 a minute (throttled %d)", admitted, throttled)
		}
	})

	t.Run("a node killed under load loses nothing it confirmed", func(t *testing.T) {
		var (
			mu        sync.Mutex
			confirmed []string
			failures  []string
			killed    atomic.Bool
		)
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 10 * time.Second}
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; ctx.Err() == nil; i++ {
					n := i % 3
					req, _ := http.NewRequest(http.MethodPost, c.node(n).urls["http"]+"/token",
						strings.NewReader("grant_type=client_credentials"))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.SetBasicAuth(alice.id, alice.secret)
					resp, err := client.Do(req)
					var body map[string]any
					if err == nil {
						_ = decodeJSON(resp, &body)
					}
					mu.Lock()
					switch {
					case err == nil && resp.StatusCode == http.StatusOK:
						confirmed = append(confirmed, body["access_token"].(string))
					case n == 1 && killed.Load():
						// the killed node: refused connections and cut answers
					case err != nil:
						failures = append(failures, fmt.Sprintf("node %d: %v", n+1, err))
					default:
						failures = append(failures, fmt.Sprintf("node %d: %d %v", n+1, resp.StatusCode, body))
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Second)
		killed.Store(true)
		if err := c.node(1).cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-c.node(1).done
		time.Sleep(time.Second)
		stop()
		wg.Wait()
		for _, f := range failures[:min(len(failures), 10)] {
			t.Error(f)
		}
		if len(confirmed) < 50 {
			t.Fatalf("only %d tokens issued", len(confirmed))
		}
		for i, token := range confirmed {
			if !active(t, c.node(2*(i%2)), alice.id, alice.secret, token) {
				t.Fatalf("token %d of %d, confirmed before or after the kill, is not valid", i+1, len(confirmed))
			}
		}
		t.Logf("%d tokens confirmed, all valid on the surviving nodes", len(confirmed))
	})
}

// decodeJSON reads a JSON answer and closes it.
func decodeJSON(resp *http.Response, into any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(into)
}
