package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/template"
	"time"
)

// nginx is the reference proxy: one nginx that serves the backend's fixed
// answer itself, and proxies to that backend over a keep-alive upstream,
// in plain HTTP and with TLS on apistore's certificate. It runs in a
// temporary prefix, in the foreground, and is stopped afterwards.
type nginx struct {
	bin    string
	dir    string
	ports  nginxPorts
	cmd    *exec.Cmd
	exited chan struct{}
}

type nginxPorts struct{ Backend, Proxy, TLS int }

// findNginx resolves --nginx: auto finds nginx when it is installed, and
// returns "" when it is not; a name or path must be found.
func findNginx(v string) (string, error) {
	if v != "auto" {
		return exec.LookPath(v)
	}
	for _, name := range []string{"nginx", "/usr/sbin/nginx"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", nil
}

// reserveNginx picks nginx's ports, so that the gateway's API can name the
// backend before nginx starts (it starts once apistore has made the
// certificate it shares).
func reserveNginx(bin, dir string) (*nginx, error) {
	n := &nginx{bin: bin, dir: dir}
	var ports [3]int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	n.ports = nginxPorts{Backend: ports[0], Proxy: ports[1], TLS: ports[2]}
	return n, nil
}

func (n *nginx) backendURL() string { return fmt.Sprintf("http://127.0.0.1:%d", n.ports.Backend) }
func (n *nginx) proxyURL() string   { return fmt.Sprintf("http://127.0.0.1:%d", n.ports.Proxy) }
func (n *nginx) tlsURL() string     { return fmt.Sprintf("https://127.0.0.1:%d", n.ports.TLS) }

// nginxConfig is the configuration. The backend's answer is backendBody,
// the Go backend's; keepalive_requests is raised so that no connection is
// closed during a run (nginx closes one after 1,000 requests by default,
// apistore never), and there is no access log (apistore writes none for
// gateway calls either; its usage records are batched).
var nginxConfig = template.Must(template.New("nginx.conf").Parse(`# apistore-bench: nginx -p {{.Dir}} -c {{.Dir}}/nginx.conf
{{if .Root}}user root;
{{end}}worker_processes auto;
daemon off;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path {{.Dir}}/client_body;
    proxy_temp_path {{.Dir}}/proxy;
{{range .Temps}}    {{.}}_temp_path {{$.Dir}}/{{.}};
{{end}}    keepalive_requests 10000000;
    keepalive_timeout 300s;

    upstream backend {
        server 127.0.0.1:{{.Ports.Backend}};
        keepalive 64;
        keepalive_requests 10000000;
    }

    # The backend: a fixed 200-byte JSON answer.
    server {
        listen 127.0.0.1:{{.Ports.Backend}};
        location / {
            default_type application/json;
            return 200 '{{.Body}}';
        }
    }

    # The reference proxy, to that backend.
    server {
        listen 127.0.0.1:{{.Ports.Proxy}};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }

    # The same, terminating TLS with apistore's certificate.
    server {
        listen 127.0.0.1:{{.Ports.TLS}} ssl;
        ssl_certificate {{.Cert}};
        ssl_certificate_key {{.Key}};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`))

// start writes the configuration and starts nginx, in the foreground.
func (n *nginx) start(ctx context.Context, cert, key string) error {
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return err
	}
	// The temporary paths of the modules this nginx has: each must be set,
	// or nginx makes its compiled-in default directory when it starts.
	version, _ := exec.CommandContext(ctx, n.bin, "-V").CombinedOutput()
	var temps []string
	for _, m := range []string{"fastcgi", "uwsgi", "scgi"} {
		if !strings.Contains(string(version), "--without-http_"+m+"_module") {
			temps = append(temps, m)
		}
	}
	if strings.ContainsAny(string(backendBody), `'$\`) {
		return errors.New("the backend's answer cannot be written in nginx's configuration")
	}
	conf := filepath.Join(n.dir, "nginx.conf")
	f, err := os.Create(conf)
	if err != nil {
		return err
	}
	err = nginxConfig.Execute(f, map[string]any{"Dir": n.dir, "Root": os.Geteuid() == 0, "Temps": temps, "Ports": n.ports,
		"Body": string(backendBody), "Cert": cert, "Key": key})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	errLog := filepath.Join(n.dir, "error.log")
	// -e: errors before the configuration is read go there too, not to the
	// compiled-in log, which may not be writable.
	n.cmd = exec.Command(n.bin, "-p", n.dir, "-c", conf, "-e", errLog)
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start nginx: %w", err)
	}
	n.exited = make(chan struct{})
	go func() { n.cmd.Wait(); close(n.exited) }()
	addrs := []string{}
	for _, p := range []int{n.ports.Backend, n.ports.Proxy, n.ports.TLS} {
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	if err := waitListening(addrs, n.exited, 10*time.Second); err != nil {
		log, _ := os.ReadFile(errLog)
		n.stop()
		return fmt.Errorf("nginx did not start: %w\n%s", err, log)
	}
	return nil
}

// stop ends nginx (SIGTERM: a fast shutdown) and waits for it.
func (n *nginx) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
	n.cmd = nil
}

// nginxPaths compare the gateway with nginx on the same backend, nginx's
// own fixed answer: the backend called directly, through nginx, and
// through the gateway (bearer token, subscription, scope, Gold tier), in
// plain HTTP and with TLS; and, for a ceiling, through a Go relay on event
// loops that parses and checks nothing (eventRelay).
var nginxPaths = []path{
	getPath("nginx_backend", fixedTarget(func(e *env) string { return e.nginx.backendURL() + "/menu" })),
	getPath("nginx_proxy", fixedTarget(func(e *env) string { return e.nginx.proxyURL() + "/menu" })),
	getPath("event_relay_nginx", fixedTarget(func(e *env) string { return e.nginxRelay.url + "/menu" })),
	getPath("gateway_nginx", gatewayTarget(gatewayNginxPath, false)),
	getPath("nginx_proxy_tls", fixedTarget(func(e *env) string { return e.nginx.tlsURL() + "/menu" })),
	getPath("gateway_nginx_tls", gatewayTarget(gatewayNginxPath, true)),
}

// tokenLoadName is what the results call the load of /token alongside.
const tokenLoadName = "/token"

// nginxSuite drives the nginx paths with wrk at each connection count,
// without and then with the /token load alongside, each round running
// every path once, one after the other.
func (e *env) nginxSuite(ctx context.Context) ([]result, error) {
	var out []result
	for _, conns := range e.o.conns {
		for _, load := range []string{"", tokenLoadName} {
			var tl *tokenLoad
			if load != "" {
				tl = startTokenLoad(ctx, e.sqlite, e.o.tokenRate)
			}
			for round := 1; round <= e.o.rounds; round++ {
				for _, p := range nginxPaths {
					var before tokenCount
					if tl != nil {
						before = tl.count()
					}
					r, err := e.run(ctx, p, &runSpec{e: e, d: e.sqlite, nodes: 1, conns: conns, dur: e.o.duration, round: round, load: load}, e.o.wrk)
					if err != nil {
						if tl != nil {
							tl.stop()
						}
						return out, fmt.Errorf("prepare %s: %w", p.name, err)
					}
					if tl != nil {
						d := tl.count().sub(before)
						r.alongside = float64(d.ok+d.failed) / d.elapsed.Seconds()
						if d.failed > 0 {
							r.errors += int(d.failed)
							r.firstErr = fmt.Errorf("the /token load alongside: %d failed: %v", d.failed, tl.firstError())
						}
					}
					out = append(out, r)
					if ctx.Err() != nil {
						break
					}
				}
			}
			if tl != nil {
				tl.stop()
			}
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
		}
	}
	return out, nil
}

// printNginx writes the runs of nginxSuite and their ratios.
func printNginx(w io.Writer, results []result) {
	fmt.Fprint(w, "### The gateway beside nginx, on nginx's backend (wrk)\n\n"+
		"| path | alongside | conns | round | req/s | p50 | p99 | errors | apistore CPU/req | nginx CPU/req | wrk CPU/req |\n"+
		"| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		along, apistoreCPU := "–", "–"
		if r.load != "" {
			along = fmt.Sprintf("%s %.0f/s", r.load, r.alongside)
		}
		if strings.HasPrefix(r.path, "gateway") {
			apistoreCPU = perRequest(r.cpu.apistore, r.requests)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.0f | %s | %s | %d | %s | %s | %s |\n", r.path, along, r.conns, r.round, r.rate(),
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.errors, apistoreCPU, perRequest(r.cpu.nginx, r.requests),
			perRequest(r.clientCPU, r.requests))
	}
	find := func(path string, like result) (result, bool) {
		i := slices.IndexFunc(results, func(r result) bool {
			return r.path == path && r.conns == like.conns && r.round == like.round && r.load == like.load
		})
		if i < 0 || results[i].rate() == 0 || results[i].p99 == 0 {
			return result{}, false
		}
		return results[i], true
	}
	fmt.Fprint(w, "\nRatios, each from runs of the same round, connection count and load alongside (the goal: gateway ÷ nginx ≥ 0.7 in throughput, ≤ 1.5 in p99):\n\n"+
		"| conns | alongside | round | HTTP gateway ÷ nginx | p99 | HTTPS gateway ÷ nginx | p99 | nginx ÷ backend | gateway ÷ backend | Go event-loop relay ÷ nginx | p99 |\n"+
		"| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, b := range results {
		if b.path != "nginx_backend" {
			continue
		}
		cell := func(a, ref string, p99 bool) string {
			x, okX := find(a, b)
			y, okY := find(ref, b)
			switch {
			case !okX || !okY:
				return "–"
			case p99:
				return fmt.Sprintf("%.2f", float64(x.p99)/float64(y.p99))
			}
			return fmt.Sprintf("%.2f", x.rate()/y.rate())
		}
		along := "nothing"
		if b.load != "" {
			along = b.load
		}
		fmt.Fprintf(w, "| %d | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", b.conns, along, b.round,
			cell("gateway_nginx", "nginx_proxy", false), cell("gateway_nginx", "nginx_proxy", true),
			cell("gateway_nginx_tls", "nginx_proxy_tls", false), cell("gateway_nginx_tls", "nginx_proxy_tls", true),
			cell("nginx_proxy", "nginx_backend", false), cell("gateway_nginx", "nginx_backend", false),
			cell("event_relay_nginx", "nginx_proxy", false), cell("event_relay_nginx", "nginx_proxy", true))
	}
	fmt.Fprintln(w)
	printErrors(w, results)
	fmt.Fprintln(w)
}

// tokenLoad is the second load generator: client_credentials requests to
// /token at a steady rate, from a few connections, while wrk runs.
type tokenLoad struct {
	done    chan struct{}
	wg      sync.WaitGroup
	started time.Time
	ok      atomic.Int64
	failed  atomic.Int64
	mu      sync.Mutex
	first   error
}

// tokenCount is what a tokenLoad did up to a moment.
type tokenCount struct {
	ok, failed int64
	elapsed    time.Duration
}

func (c tokenCount) sub(before tokenCount) tokenCount {
	return tokenCount{c.ok - before.ok, c.failed - before.failed, c.elapsed - before.elapsed}
}

// tokenLoadWorkers is how many requests of the /token load may be in flight.
const tokenLoadWorkers = 16

func startTokenLoad(ctx context.Context, d *deployment, rate int) *tokenLoad {
	t := &tokenLoad{done: make(chan struct{}), started: time.Now()}
	jobs := make(chan struct{})
	t.wg.Add(1 + tokenLoadWorkers)
	go func() {
		defer t.wg.Done()
		defer close(jobs)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-t.done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case jobs <- struct{}{}:
				default: // every worker is busy: the server is behind, the rate drops
				}
			}
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: tokenLoadWorkers, DisableCompression: true},
		Timeout: 30 * time.Second}
	for range tokenLoadWorkers {
		go func() {
			defer t.wg.Done()
			for range jobs {
				_, err := do(ctx, client, http.MethodPost, d.nodes[0].api+"/token", "grant_type=client_credentials", d.basic)
				switch {
				case err == nil:
					t.ok.Add(1)
				case ctx.Err() == nil:
					t.failed.Add(1)
					t.mu.Lock()
					if t.first == nil {
						t.first = err
					}
					t.mu.Unlock()
				}
			}
		}()
	}
	return t
}

func (t *tokenLoad) count() tokenCount {
	return tokenCount{t.ok.Load(), t.failed.Load(), time.Since(t.started)}
}

func (t *tokenLoad) firstError() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.first
}

func (t *tokenLoad) stop() {
	close(t.done)
	t.wg.Wait()
}
