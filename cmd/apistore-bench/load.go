package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apistore/apistore/oauth"
)

// call makes one request as connection worker and checks its answer.
type call func(ctx context.Context, worker int, c *http.Client) error

// errExhausted stops a worker whose path has no work left (revoke tokens).
var errExhausted = errors.New("no more work")

// runSpec is one run: a path at conns connections for dur, against the
// first nodes of deployment d (worker w calls node w mod nodes).
type runSpec struct {
	e     *env
	d     *deployment
	nodes int
	conns int
	dur   time.Duration
	round int    // 1, 2, … when a section repeats its runs
	load  string // what runs alongside: "" for nothing
}

// api is the token endpoint and gateway's base URL for worker w.
func (r *runSpec) api(w int) string { return r.d.nodes[w%r.nodes].api }

// path is one hot path: prepare readies a call for a run. A path that is a
// single GET answered 200 has a target instead, its URL for a worker and
// its Authorization header, so that --wrk can drive it too.
type path struct {
	name    string
	prepare func(ctx context.Context, r *runSpec) (call, error)
	target  func(ctx context.Context, r *runSpec) (u func(worker int) string, authorization string, err error)
}

// getPath is a path of GETs to target.
func getPath(name string, target func(ctx context.Context, r *runSpec) (func(int) string, string, error)) path {
	return path{name: name, target: target, prepare: func(ctx context.Context, r *runSpec) (call, error) {
		u, authorization, err := target(ctx, r)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, w int, c *http.Client) error {
			_, err := do(ctx, c, http.MethodGet, u(w), "", authorization)
			return err
		}, nil
	}}
}

// gatewayTarget GETs resource through the gateway, with a token that has
// the read scope; tls says over HTTPS.
func gatewayTarget(resource string, tls bool) func(ctx context.Context, r *runSpec) (func(int) string, string, error) {
	return func(ctx context.Context, r *runSpec) (func(int) string, string, error) {
		tok, err := r.d.token(ctx, "grant_type=client_credentials&scope=read")
		if err != nil {
			return nil, "", err
		}
		return func(w int) string {
			if tls {
				return r.d.nodes[w%r.nodes].apiTLS + resource
			}
			return r.api(w) + resource
		}, "Bearer " + tok.AccessToken, nil
	}
}

// fixedTarget GETs the same URL from every worker, without credentials.
func fixedTarget(u func(e *env) string) func(ctx context.Context, r *runSpec) (func(int) string, string, error) {
	return func(_ context.Context, r *runSpec) (func(int) string, string, error) {
		s := u(r.e)
		return func(int) string { return s }, "", nil
	}
}

// paths are the hot paths of apistore against the tool's own backend, and
// that backend called directly and through the relay.
var paths = []path{
	{name: "token_client_credentials", prepare: func(ctx context.Context, r *runSpec) (call, error) {
		return r.post("/token", "grant_type=client_credentials", nil), nil
	}},
	{name: "token_password", prepare: func(ctx context.Context, r *runSpec) (call, error) {
		return r.post("/token", "grant_type=password&username="+r.d.username+"&password="+r.d.password, nil), nil
	}},
	{name: "token_refresh", prepare: prepareRefresh},
	{name: "introspect", prepare: func(ctx context.Context, r *runSpec) (call, error) {
		tok, err := r.d.token(ctx, "grant_type=client_credentials&scope=read")
		if err != nil {
			return nil, err
		}
		return r.post("/introspect", "token="+tok.AccessToken, func(body []byte) error {
			if !strings.Contains(string(body), `"active":true`) {
				return fmt.Errorf("introspection answered %s", body)
			}
			return nil
		}), nil
	}},
	{name: "revoke", prepare: prepareRevoke},
	getPath("gateway", gatewayTarget(gatewayPath, false)),
	{name: "gateway_validation", prepare: func(ctx context.Context, r *runSpec) (call, error) {
		// The gateway's own work without the backend: routing, token,
		// subscription, then a refusal for the scope the token lacks.
		tok, err := r.d.token(ctx, "grant_type=client_credentials&scope=read")
		if err != nil {
			return nil, err
		}
		auth := "Bearer " + tok.AccessToken
		return func(ctx context.Context, w int, c *http.Client) error {
			_, err := request(ctx, c, http.MethodPost, r.api(w)+gatewayScopedPath, "", auth, http.StatusForbidden)
			return err
		}, nil
	}},
	{name: "gateway_validation_dpop", prepare: prepareDPoPValidation},
	getPath("backend_direct", fixedTarget(func(e *env) string { return e.backURL + "/menu" })),
	getPath("backend_relay", fixedTarget(func(e *env) string { return e.relayURL + "/menu" })),
}

// storePaths are the paths whose work is apistore's, which the PostgreSQL
// comparison runs on each store.
var storePaths = []string{"token_client_credentials", "token_password", "token_refresh", "introspect", "revoke",
	"gateway", "gateway_validation"}

func pathNames() []string {
	var names []string
	for _, p := range paths {
		names = append(names, p.name)
	}
	return names
}

func pathByName(name string) (path, bool) {
	for _, list := range [][]path{paths, baselinePaths, nginxPaths} {
		if i := slices.IndexFunc(list, func(p path) bool { return p.name == name }); i >= 0 {
			return list[i], true
		}
	}
	return path{}, false
}

// post is a call that POSTs a form with the production key and expects 200;
// check, when given, looks at the body.
func (r *runSpec) post(endpoint, form string, check func([]byte) error) call {
	return func(ctx context.Context, w int, c *http.Client) error {
		body, err := do(ctx, c, http.MethodPost, r.api(w)+endpoint, form, r.d.basic)
		if err == nil && check != nil {
			err = check(body)
		}
		return err
	}
}

func do(ctx context.Context, c *http.Client, method, u, form, authorization string) ([]byte, error) {
	return request(ctx, c, method, u, form, authorization, http.StatusOK)
}

// request makes one request, with the headers (name, value pairs), and
// expects the status want.
func request(ctx context.Context, c *http.Client, method, u, form, authorization string, want int, headers ...string) ([]byte, error) {
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, raw)
	}
	return raw, nil
}

// token asks the first node's /token for a token outside any measurement.
func (d *deployment) token(ctx context.Context, form string) (*oauth.TokenResponse, error) {
	raw, err := do(ctx, http.DefaultClient, http.MethodPost, d.nodes[0].api+"/token", form, d.basic)
	if err != nil {
		return nil, err
	}
	var tok oauth.TokenResponse
	return &tok, json.Unmarshal(raw, &tok)
}

// prepareRefresh gives each worker its own refresh chain, started with a
// password grant; each call spends the current refresh token.
func prepareRefresh(ctx context.Context, r *runSpec) (call, error) {
	chains := make([]string, r.conns)
	for i := range chains {
		tok, err := r.d.token(ctx, "grant_type=password&username="+r.d.username+"&password="+r.d.password)
		if err != nil {
			return nil, err
		}
		chains[i] = tok.RefreshToken
	}
	return func(ctx context.Context, w int, c *http.Client) error {
		raw, err := do(ctx, c, http.MethodPost, r.api(w)+"/token",
			"grant_type=refresh_token&refresh_token="+url.QueryEscape(chains[w]), r.d.basic)
		if err != nil {
			return err
		}
		var tok oauth.TokenResponse
		if err := json.Unmarshal(raw, &tok); err != nil || tok.RefreshToken == "" {
			return fmt.Errorf("refresh answered %s", raw)
		}
		chains[w] = tok.RefreshToken
		return nil
	}, nil
}

// revokeRate bounds how many tokens a revoke run may need per second
// (TestSmoke lowers it: its short runs under -race revoke a few hundred).
var revokeRate = 25000

// prepareRevoke stores enough fresh tokens for the run in bulk, through
// the store; each call revokes a new one.
func prepareRevoke(ctx context.Context, r *runSpec) (call, error) {
	n := max(1000, int(r.dur.Seconds()*float64(revokeRate)))
	s, err := r.d.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	plain, err := storeTokens(ctx, s, r.d.key, n, time.Hour)
	if err != nil {
		return nil, err
	}
	var next atomic.Int64
	return func(ctx context.Context, w int, c *http.Client) error {
		i := next.Add(1) - 1
		if i >= int64(n) {
			return errExhausted
		}
		_, err := do(ctx, c, http.MethodPost, r.api(w)+"/revoke", "token="+plain[i], r.d.basic)
		return err
	}, nil
}

// result is one run: a path at one connection count.
type result struct {
	path     string
	store    string // the deployment's name; "" when no apistore store is involved
	nodes    int
	conns    int
	round    int
	load     string
	requests int
	errors   int
	firstErr error
	elapsed  time.Duration
	p50, p99 time.Duration
	peakRSS  int64 // bytes, the largest of the nodes'; 0 when unknown
	cpu      cpuUse
	// clientCPU is the load generator's CPU time when it is a process of
	// its own (wrk), else 0.
	clientCPU time.Duration
	// alongside is the rate of the load that ran alongside, if any.
	alongside float64
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// suite runs every chosen path at every connection count on SQLite.
func (e *env) suite(ctx context.Context, names []string) ([]result, error) {
	var out []result
	for _, name := range names {
		p, _ := pathByName(name)
		for _, conns := range e.o.conns {
			r, err := e.run(ctx, p, &runSpec{e: e, d: e.sqlite, nodes: 1, conns: conns, dur: e.o.duration}, e.o.wrk)
			if err != nil {
				return nil, fmt.Errorf("prepare %s: %w", name, err)
			}
			out = append(out, r)
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
		}
	}
	return out, nil
}

// run drives p as rs says: with wrk when wrk is given and p is a plain GET,
// else with the built-in client.
func (e *env) run(ctx context.Context, p path, rs *runSpec, wrk string) (result, error) {
	var r result
	if wrk != "" && p.target != nil {
		u, authorization, err := p.target(ctx, rs)
		if err != nil {
			return result{}, err
		}
		r = e.measure(rs, func() result { return driveWrk(ctx, wrk, u(0), authorization, rs.conns, rs.dur) })
	} else {
		c, err := p.prepare(ctx, rs)
		if err != nil {
			return result{}, err
		}
		r = e.measure(rs, func() result { return drive(ctx, c, rs.conns, rs.dur) })
	}
	r.path, r.conns, r.round, r.load = p.name, rs.conns, rs.round, rs.load
	if rs.d != nil {
		r.store, r.nodes = rs.d.name, rs.nodes
	}
	return r, nil
}

// measure runs fn and adds the servers' peak RSS and CPU time to its result.
func (e *env) measure(rs *runSpec, fn func() result) result {
	var pids []int
	if rs.d != nil {
		for _, n := range rs.d.nodes[:rs.nodes] {
			pids = append(pids, n.pid())
		}
	}
	for _, pid := range pids {
		resetPeakRSS(pid)
	}
	before := e.cpuNow(pids)
	r := fn()
	r.cpu = e.cpuNow(pids).sub(before)
	for _, pid := range pids {
		r.peakRSS = max(r.peakRSS, peakRSS(pid))
	}
	return r
}

// cpuNow reads the CPU time used so far by the apistore processes pids,
// the PostgreSQL server and nginx, those the tool can see.
func (e *env) cpuNow(pids []int) cpuUse {
	c := unknownCPU()
	if len(pids) > 0 {
		c.apistore = 0
		for _, pid := range pids {
			t, ok := processCPU(pid)
			if !ok {
				c.apistore = -1
				break
			}
			c.apistore += t
		}
	}
	if e.pg != nil && e.pg.postmaster > 0 {
		if t, ok := treeCPU(e.pg.postmaster); ok {
			c.postgres = t
		}
	}
	if e.nginx != nil && e.nginx.cmd != nil {
		if t, ok := treeCPU(e.nginx.cmd.Process.Pid); ok {
			c.nginx = t
		}
	}
	return c
}

// drive runs conns workers for d and measures them.
func drive(ctx context.Context, c call, conns int, d time.Duration) result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	start := time.Now()
	deadline := start.Add(d)
	lat := make([][]time.Duration, conns)
	errs := make([]int, conns)
	firstErrs := make([]error, conns)
	ends := make([]time.Time, conns)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				err := c(ctx, w, client)
				if errors.Is(err, errExhausted) {
					break
				}
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					errs[w]++
					if firstErrs[w] == nil {
						firstErrs[w] = err
					}
				}
			}
			ends[w] = time.Now()
		}()
	}
	wg.Wait()
	r := result{conns: conns, elapsed: slices.MaxFunc(ends, time.Time.Compare).Sub(start)}
	var all []time.Duration
	for w := range conns {
		all = append(all, lat[w]...)
		r.errors += errs[w]
		if r.firstErr == nil {
			r.firstErr = firstErrs[w]
		}
	}
	r.requests = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return r
}

// resetPeakRSS resets the kernel's high-water mark of the process's RSS, so
// the next reading is this run's own peak; it reports whether that worked.
func resetPeakRSS(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

// peakRSS reads VmHWM, the process's peak resident set.
func peakRSS(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func formatRSS(b int64) string {
	if b <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// printResults writes a Markdown table of the SQLite runs, then the
// gateway's overhead.
func printResults(w io.Writer, title string, results []result) {
	fmt.Fprintf(w, "### %s\n\n| path | conns | req/s | p50 | p99 | errors | server CPU/req | server peak RSS |\n"+
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n", title)
	for _, r := range results {
		cpu := perRequest(r.cpu.apistore, r.requests)
		if strings.HasPrefix(r.path, "backend_") {
			cpu = "–" // the tool's own backend: the server is idle
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %d | %s | %s |\n", r.path, r.conns, r.rate(),
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.errors, cpu, formatRSS(r.peakRSS))
	}
	fmt.Fprintln(w)
	for _, via := range []struct{ path, what string }{{"gateway", "Gateway"}, {"backend_relay", "A byte-copying TCP relay"}} {
		for _, g := range results {
			if g.path != via.path {
				continue
			}
			for _, b := range results {
				if b.path == "backend_direct" && b.conns == g.conns && b.rate() > 0 {
					fmt.Fprintf(w, "%s at %d connections: %.0f%% of the backend's direct throughput (overhead %.0f%%).\n",
						via.what, g.conns, 100*g.rate()/b.rate(), 100*(1-g.rate()/b.rate()))
				}
			}
		}
	}
	printErrors(w, results)
	fmt.Fprintln(w)
}

// printErrors writes each run's first error.
func printErrors(w io.Writer, results []result) {
	for _, r := range results {
		if r.firstErr != nil {
			fmt.Fprintf(w, "First error of %s at %d connections: %v\n", r.path, r.conns, r.firstErr)
		}
	}
}
