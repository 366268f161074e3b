package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// env is what the runs share: a loopback backend and a relay to it, the
// SQLite deployment and, when asked for, a PostgreSQL one and an nginx.
type env struct {
	o       *options
	dir     string // temporary; every data directory is in it
	backend *http.Server
	backURL string
	// relayURL reaches the backend through a TCP relay that copies bytes
	// without reading them: the most any proxy could do on this machine.
	relayURL string
	relay    net.Listener
	sqlite   *deployment
	pg       *postgresServer // nil without --database
	pgStore  *deployment     // nil without --database
	nginx    *nginx          // nil without --nginx
	// nginxRelay relays to nginx's backend on event loops (eventRelay);
	// nil without --nginx.
	nginxRelay *eventRelay
}

// deployment is a store provisioned for the benchmark and the apistore
// nodes ("apistore serve") serving it.
type deployment struct {
	name     string // as the tables show it
	database string // serve's --database: "" for SQLite in the first node's data directory
	nodes    []*node
	key      string // the production consumer key
	basic    string // Authorization header of the production key
	username string
	password string
}

// node is one "apistore serve" process with its own data directory.
type node struct {
	dir    string
	cmd    *exec.Cmd
	api    string // http://127.0.0.1:PORT of the token endpoint and gateway
	apiTLS string // https://127.0.0.1:PORT, the same over TLS
}

const (
	benchUser     = "bench"
	benchPassword = "bench-password"

	// The benchmark API's resources through the gateway: one any token
	// may call, one needing a scope the benchmark's tokens lack.
	gatewayPath       = "/bench/1.0.0/menu"
	gatewayScopedPath = "/bench/1.0.0/order"
	// gatewayNginxPath is the API whose backend is nginx, subscribed on
	// the Gold tier.
	gatewayNginxPath = "/nginx/1.0.0/menu"

	// goldLimit is the Gold tier's limit (requests per minute) given to the
	// servers: far above any load here, so that every call takes the
	// throttle's path and none is refused.
	goldLimit = 100_000_000
)

// setUp starts the backends, provisions each store through package db and
// starts the servers on it.
func setUp(ctx context.Context, o *options) (*env, error) {
	dir, err := os.MkdirTemp("", "apistore-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{o: o, dir: dir}
	if err := e.setUp(ctx); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *env) setUp(ctx context.Context) error {
	if err := e.startBackend(); err != nil {
		return err
	}
	nginxBackend := ""
	if e.o.nginx != "" {
		n, err := reserveNginx(e.o.nginx, filepath.Join(e.dir, "nginx"))
		if err != nil {
			return err
		}
		e.nginx, nginxBackend = n, n.backendURL()
	}
	e.sqlite = e.newDeployment("SQLite", "", 1)
	if err := e.sqlite.provision(ctx, e.backURL, nginxBackend); err != nil {
		return fmt.Errorf("provision SQLite: %w", err)
	}
	if err := e.sqlite.start(e.o.bin); err != nil {
		return err
	}
	if e.nginx != nil {
		// The certificate is the one the SQLite node made on its first start.
		dir := e.sqlite.nodes[0].dir
		if err := e.nginx.start(ctx, filepath.Join(dir, "tls-cert.pem"), filepath.Join(dir, "tls-key.pem")); err != nil {
			return err
		}
		r, err := startEventRelay(strings.TrimPrefix(nginxBackend, "http://"))
		if err != nil {
			return err
		}
		e.nginxRelay = r
	}
	if e.o.database != "" {
		pg, err := startPostgres(ctx, e.o, e.dir)
		if err != nil {
			return err
		}
		e.pg = pg
		e.pgStore = e.newDeployment("PostgreSQL", pg.url, slicesMax(e.o.nodes))
		if err := e.pgStore.provision(ctx, e.backURL, ""); err != nil {
			return fmt.Errorf("provision PostgreSQL: %w", err)
		}
		if err := e.pgStore.start(e.o.bin); err != nil {
			return err
		}
		if err := pg.findServer(ctx); err != nil {
			return err
		}
	}
	return nil
}

func slicesMax(s []int) int {
	m := 0
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

// newDeployment names n nodes' data directories.
func (e *env) newDeployment(name, database string, n int) *deployment {
	d := &deployment{name: name, database: database, username: benchUser, password: benchPassword}
	for i := range n {
		d.nodes = append(d.nodes, &node{dir: filepath.Join(e.dir, fmt.Sprintf("%s-%d", strings.ToLower(name), i+1))})
	}
	return d
}

// backendBody is what the loopback backend answers: 200 bytes of JSON.
var backendBody = []byte(`{"menu":[{"name":"Margherita","price":7.5},{"name":"Marinara","price":6.0},` +
	`{"name":"Quattro Formaggi","price":9.5},{"name":"Diavola","price":8.5}],"currency":"EUR","open":true,"x":"` +
	strings.Repeat("-", 200-147) + `"}`)

func (e *env) startBackend() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.backURL = "http://" + ln.Addr().String()
	e.backend = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(backendBody)
	})}
	go e.backend.Serve(ln)
	return e.startRelay(ln.Addr().String())
}

// startRelay listens for the backend_relay path: each connection is joined
// to a new connection to the backend, and bytes are copied both ways
// without being parsed.
func (e *env) startRelay(backend string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.relay, e.relayURL = ln, "http://"+ln.Addr().String()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer out.Close()
				go func() {
					io.Copy(out, in)
					out.(*net.TCPConn).CloseWrite()
				}()
				io.Copy(in, out)
			}()
		}
	}()
	return nil
}

// open opens the deployment's store as the servers do (db.Open), for
// provisioning and bulk writes.
func (d *deployment) open(ctx context.Context) (db.Store, error) {
	return db.Open(ctx, d.database, d.nodes[0].dir)
}

// provision makes, through the store's interface, the user, scopes, an
// application with keys and the benchmark API (backend backURL) subscribed
// on the Unlimited tier; with nginxURL, also an API whose backend is nginx,
// subscribed on the Gold tier.
func (d *deployment) provision(ctx context.Context, backURL, nginxURL string) error {
	s, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	hash, err := oauth.HashPassword(d.password)
	if err != nil {
		return err
	}
	u := &portal.User{User: oauth.User{Username: d.username, PasswordHash: hash, Roles: []string{"subscriber"}}}
	if err := s.CreateUser(ctx, u); err != nil {
		return err
	}
	// Anyone may have read; update only admins, so the benchmark's tokens
	// lack it (the gateway_validation path).
	for _, sc := range []oauth.Scope{{Name: "read", Description: "Read"}, {Name: "update", Description: "Update", Roles: []string{"admin"}}} {
		if err := s.PutScope(ctx, "", sc); err != nil {
			return err
		}
	}
	var key, secret string
	app := &portal.Application{OwnerID: u.ID, Name: "BenchApp", Tier: "Unlimited"}
	err = s.CreateApplicationWithKeys(ctx, app, func(kt oauth.KeyType) *oauth.Client {
		k, sec := oauth.NewConsumerKey(), oauth.NewSecret()
		if kt == oauth.Production {
			key, secret = k, sec
		}
		return &oauth.Client{ConsumerKey: k, SecretHash: oauth.HashOf(sec), KeyType: kt, GrantTypes: oauth.DefaultGrantTypes}
	})
	if err != nil {
		return err
	}
	d.key = key
	d.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"+secret))
	resources := []portal.Resource{{Method: "GET", Path: "/menu", Scope: "read"}, {Method: "POST", Path: "/order", Scope: "update"}}
	api := &portal.API{Name: "BenchAPI", Version: "1.0.0", Context: "/bench", ProductionURL: backURL, SandboxURL: backURL, Resources: resources}
	if err := s.CreateAPI(ctx, api); err != nil {
		return err
	}
	if err := s.Subscribe(ctx, app.ID, api.ID, "Unlimited"); err != nil {
		return err
	}
	if nginxURL == "" {
		return nil
	}
	api = &portal.API{Name: "NginxBackend", Version: "1.0.0", Context: "/nginx", ProductionURL: nginxURL, SandboxURL: nginxURL, Resources: resources}
	if err := s.CreateAPI(ctx, api); err != nil {
		return err
	}
	return s.Subscribe(ctx, app.ID, api.ID, "Gold")
}

var listenLine = regexp.MustCompile(`^(https?): (https?://\S+)$`)

// start starts every node that is not running.
func (d *deployment) start(bin string) error {
	for _, n := range d.nodes {
		if n.cmd != nil {
			continue
		}
		if err := n.start(bin, d.database); err != nil {
			return fmt.Errorf("%s node: %w", d.name, err)
		}
	}
	return nil
}

// start runs "apistore serve" on free ports and waits for its URLs.
func (n *node) start(bin, database string) error {
	args := []string{"serve", "--data-dir", n.dir, "--store-port", "0", "--https-port", "0", "--http-port", "0",
		"--metrics-addr", "127.0.0.1:0", "--tier-gold", strconv.Itoa(goldLimit)}
	if database != "" {
		args = append(args, "--database", database)
	}
	cmd := exec.Command(bin, args...)
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return err
	}
	// The server's request log would drown the results; it is kept in the
	// data directory while the run lasts.
	logFile, err := os.OpenFile(filepath.Join(n.dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	n.cmd = cmd
	found := make(chan [2]string, 2)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				// The server listens on loopback; wrk would try ::1 first
				// for localhost.
				found <- [2]string{m[1], strings.Replace(m[2], "//localhost:", "//127.0.0.1:", 1)}
			}
		}
	}()
	timeout := time.After(30 * time.Second)
	for n.api == "" || n.apiTLS == "" {
		select {
		case m := <-found:
			if m[0] == "http" {
				n.api = m[1]
			} else {
				n.apiTLS = m[1]
			}
		case <-timeout:
			return fmt.Errorf("the server printed no http and https URLs within 30 s (see %s)", filepath.Join(n.dir, "server.log"))
		}
	}
	return nil
}

// stop ends the server with SIGTERM (it finishes in-flight requests).
func (n *node) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		<-done
	}
	n.cmd, n.api, n.apiTLS = nil, "", ""
}

func (n *node) pid() int { return n.cmd.Process.Pid }

func (d *deployment) stop() {
	for _, n := range d.nodes {
		n.stop()
	}
}

func (e *env) close() {
	if e.sqlite != nil {
		e.sqlite.stop()
	}
	if e.pgStore != nil {
		e.pgStore.stop()
	}
	if e.pg != nil {
		e.pg.close()
	}
	if e.nginx != nil {
		e.nginx.stop()
	}
	if e.nginxRelay != nil {
		e.nginxRelay.stop()
	}
	if e.relay != nil {
		e.relay.Close()
	}
	if e.backend != nil {
		e.backend.Close()
	}
	os.RemoveAll(e.dir)
}

// preload stops the SQLite node, adds n live tokens in bulk and starts it
// again; it returns the database's growth per token, after a checkpoint.
func (e *env) preload(ctx context.Context, n int) (float64, error) {
	d := e.sqlite
	d.stop()
	path := filepath.Join(d.nodes[0].dir, db.DatabaseFile)
	before, err := fileSize(path)
	if err != nil {
		return 0, err
	}
	s, err := d.open(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := storeTokens(ctx, s, d.key, n, 24*time.Hour); err != nil {
		s.Close()
		return 0, err
	}
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		return 0, err
	}
	after, err := fileSize(path)
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n), d.start(e.o.bin)
}

// storeTokens writes n live tokens of the key in bulk, through the store,
// and returns them as a client would present them.
func storeTokens(ctx context.Context, s db.Store, key string, n int, validity time.Duration) ([]string, error) {
	client, err := s.ClientByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	const chunk = 10000
	plain := make([]string, 0, n)
	tokens := make([]*oauth.Token, 0, chunk)
	for i := range n {
		plain = append(plain, oauth.NewSecret())
		h := oauth.HashOf(plain[i])
		tokens = append(tokens, &oauth.Token{AccessHash: h, FamilyID: h, KeyID: client.KeyID, UserID: client.OwnerID,
			Scopes: []string{"read"}, GrantType: oauth.GrantClientCredentials, IssuedAt: now, ExpiresAt: now.Add(validity)})
		if len(tokens) == chunk || i == n-1 {
			if err := s.CreateTokens(ctx, tokens); err != nil {
				return nil, err
			}
			tokens = tokens[:0]
		}
	}
	return plain, nil
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// waitListening waits until every address accepts connections, or the
// process (when given) has exited, or the timeout passes.
func waitListening(addrs []string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				return errors.New("it exited")
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s accepts no connection after %v", a, timeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}
