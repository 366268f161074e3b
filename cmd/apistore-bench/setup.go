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
	"strings"
	"syscall"
	"time"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// env is a provisioned data directory, the server running on it and a
// loopback backend for the gateway.
type env struct {
	dir     string
	dbPath  string
	bin     string
	server  *exec.Cmd
	api     string // http://localhost:PORT of the token endpoint and gateway
	backend *http.Server
	backURL string
	// relayURL reaches the backend through a TCP relay that copies bytes
	// without reading them: the most any proxy could do on this machine.
	relayURL string
	relay    net.Listener
	key      string // the production consumer key
	basic    string // Authorization header of the production key
	gateway  string // path of the benchmark API's resource through the gateway
	// gatewayScoped is a resource needing a scope the benchmark's tokens lack.
	gatewayScoped string
	username      string
	password      string
}

const (
	benchUser     = "bench"
	benchPassword = "bench-password"
)

// setUp provisions a fresh data directory directly through package db, then
// starts the server on it.
func setUp(ctx context.Context, o *options) (*env, error) {
	dir, err := os.MkdirTemp("", "apistore-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir, dbPath: filepath.Join(dir, "apistore.db"), bin: o.bin, username: benchUser, password: benchPassword}
	if err := e.startBackend(); err != nil {
		e.close()
		return nil, err
	}
	if err := e.provision(ctx); err != nil {
		e.close()
		return nil, err
	}
	if err := e.start(); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
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

// provision makes the user, scopes, an application with keys and an API
// subscribed on the Unlimited tier.
func (e *env) provision(ctx context.Context) error {
	d, err := sqlite.Open(e.dbPath)
	if err != nil {
		return err
	}
	defer d.Close()
	hash, err := oauth.HashPassword(e.password)
	if err != nil {
		return err
	}
	u := &portal.User{User: oauth.User{Username: e.username, PasswordHash: hash, Roles: []string{"subscriber"}}}
	if err := d.CreateUser(ctx, u); err != nil {
		return err
	}
	// Anyone may have read; update only admins, so the benchmark's tokens
	// lack it (the gateway_validation path).
	for _, sc := range []oauth.Scope{{Name: "read", Description: "Read"}, {Name: "update", Description: "Update", Roles: []string{"admin"}}} {
		if err := d.PutScope(ctx, sc); err != nil {
			return err
		}
	}
	var key, secret string
	app := &portal.Application{OwnerID: u.ID, Name: "BenchApp", Tier: "Unlimited"}
	err = d.CreateApplicationWithKeys(ctx, app, func(kt oauth.KeyType) *oauth.Client {
		k, s := oauth.NewConsumerKey(), oauth.NewSecret()
		if kt == oauth.Production {
			key, secret = k, s
		}
		return &oauth.Client{ConsumerKey: k, SecretHash: oauth.HashOf(s), KeyType: kt, GrantTypes: oauth.DefaultGrantTypes}
	})
	if err != nil {
		return err
	}
	e.key = key
	e.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"+secret))
	api := &portal.API{Name: "BenchAPI", Version: "1.0.0", Context: "/bench", ProductionURL: e.backURL, SandboxURL: e.backURL,
		Resources: []portal.Resource{{Method: "GET", Path: "/menu", Scope: "read"}, {Method: "POST", Path: "/order", Scope: "update"}}}
	if err := d.CreateAPI(ctx, api); err != nil {
		return err
	}
	e.gateway, e.gatewayScoped = "/bench/1.0.0/menu", "/bench/1.0.0/order"
	return d.Subscribe(ctx, app.ID, api.ID, "Unlimited")
}

var httpLine = regexp.MustCompile(`^http: (http://\S+)$`)

// start runs "apistore serve" on free ports and waits for its HTTP URL.
func (e *env) start() error {
	e.server = exec.Command(e.bin, "serve", "--data-dir", e.dir, "--store-port", "0", "--https-port", "0", "--http-port", "0")
	// The server's request log would drown the results; it is kept in the
	// data directory while the run lasts.
	logFile, err := os.OpenFile(filepath.Join(e.dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	e.server.Stderr = logFile
	stdout, err := e.server.StdoutPipe()
	if err != nil {
		return err
	}
	if err := e.server.Start(); err != nil {
		return fmt.Errorf("start %s: %w", e.bin, err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := httpLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case e.api = <-found:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("the server printed no http URL within 30 s")
	}
}

// stopServer ends the server with SIGTERM (it finishes in-flight requests).
func (e *env) stopServer() {
	if e.server == nil || e.server.Process == nil {
		return
	}
	e.server.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { e.server.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		e.server.Process.Kill()
		<-done
	}
	e.server = nil
}

func (e *env) close() {
	e.stopServer()
	if e.relay != nil {
		e.relay.Close()
	}
	if e.backend != nil {
		e.backend.Close()
	}
	os.RemoveAll(e.dir)
}

// preload stops the server, adds n live tokens in bulk and starts it again;
// it returns the database's growth per token, after a checkpoint.
func (e *env) preload(ctx context.Context, n int) (float64, error) {
	e.stopServer()
	before, err := fileSize(e.dbPath)
	if err != nil {
		return 0, err
	}
	d, err := sqlite.Open(e.dbPath)
	if err != nil {
		return 0, err
	}
	client, err := d.ClientByKey(ctx, e.key)
	if err != nil {
		d.Close()
		return 0, err
	}
	now := time.Now()
	const chunk = 10000
	tokens := make([]*oauth.Token, 0, chunk)
	for i := 0; i < n; i++ {
		h := oauth.HashOf(oauth.NewSecret())
		tokens = append(tokens, &oauth.Token{AccessHash: h, FamilyID: h, KeyID: client.KeyID, UserID: client.OwnerID,
			Scopes: []string{"read"}, GrantType: oauth.GrantClientCredentials, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
		if len(tokens) == chunk || i == n-1 {
			if err := d.CreateTokens(ctx, tokens); err != nil {
				d.Close()
				return 0, err
			}
			tokens = tokens[:0]
		}
	}
	if err := d.Close(); err != nil { // checkpoints the WAL into the file
		return 0, err
	}
	after, err := fileSize(e.dbPath)
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n), e.start()
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
