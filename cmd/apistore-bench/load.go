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

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/oauth"
)

// call makes one request as connection worker and checks its answer.
type call func(ctx context.Context, worker int, c *http.Client) error

// errExhausted stops a worker whose path has no work left (revoke tokens).
var errExhausted = errors.New("no more work")

// path is one hot path: prepare readies a call for a run at conns
// connections lasting d. A path that is a single GET answered 200 has a
// target instead, its URL and Authorization header, so that --wrk can drive
// it too.
type path struct {
	name    string
	prepare func(ctx context.Context, e *env, conns int, d time.Duration) (call, error)
	target  func(ctx context.Context, e *env) (u, authorization string, err error)
}

// getPath is a path of GETs to target.
func getPath(name string, target func(ctx context.Context, e *env) (string, string, error)) path {
	return path{name: name, target: target, prepare: func(ctx context.Context, e *env, _ int, _ time.Duration) (call, error) {
		u, authorization, err := target(ctx, e)
		if err != nil {
			return nil, err
		}
		return e.get(u, authorization), nil
	}}
}

var paths = []path{
	{name: "token_client_credentials", prepare: func(ctx context.Context, e *env, _ int, _ time.Duration) (call, error) {
		return e.post("/token", "grant_type=client_credentials", nil), nil
	}},
	{name: "token_password", prepare: func(ctx context.Context, e *env, _ int, _ time.Duration) (call, error) {
		return e.post("/token", "grant_type=password&username="+e.username+"&password="+e.password, nil), nil
	}},
	{name: "token_refresh", prepare: prepareRefresh},
	{name: "introspect", prepare: func(ctx context.Context, e *env, _ int, _ time.Duration) (call, error) {
		tok, err := e.token(ctx, "grant_type=client_credentials&scope=read")
		if err != nil {
			return nil, err
		}
		return e.post("/introspect", "token="+tok.AccessToken, func(body []byte) error {
			if !strings.Contains(string(body), `"active":true`) {
				return fmt.Errorf("introspection answered %s", body)
			}
			return nil
		}), nil
	}},
	{name: "revoke", prepare: prepareRevoke},
	getPath("gateway", func(ctx context.Context, e *env) (string, string, error) {
		tok, err := e.token(ctx, "grant_type=client_credentials&scope=read")
		if err != nil {
			return "", "", err
		}
		return e.api + e.gateway, "Bearer " + tok.AccessToken, nil
	}),
	{name: "gateway_validation", prepare: func(ctx context.Context, e *env, _ int, _ time.Duration) (call, error) {
		// The gateway's own work without the backend: routing, token,
		// subscription, then a refusal for the scope the token lacks.
		tok, err := e.token(ctx, "grant_type=client_credentials&scope=read")
		if err != nil {
			return nil, err
		}
		auth := "Bearer " + tok.AccessToken
		return func(ctx context.Context, _ int, c *http.Client) error {
			_, err := e.request(ctx, c, http.MethodPost, e.api+e.gatewayScoped, "", auth, http.StatusForbidden)
			return err
		}, nil
	}},
	getPath("backend_direct", func(_ context.Context, e *env) (string, string, error) {
		return e.backURL + "/menu", "", nil
	}),
	getPath("backend_relay", func(_ context.Context, e *env) (string, string, error) {
		return e.relayURL + "/menu", "", nil
	}),
}

func pathNames() []string {
	var names []string
	for _, p := range paths {
		names = append(names, p.name)
	}
	return names
}

func pathByName(name string) (path, bool) {
	i := slices.IndexFunc(paths, func(p path) bool { return p.name == name })
	if i < 0 {
		return path{}, false
	}
	return paths[i], true
}

// post is a call that POSTs a form with the production key and expects 200;
// check, when given, looks at the body.
func (e *env) post(endpoint, form string, check func([]byte) error) call {
	return func(ctx context.Context, _ int, c *http.Client) error {
		body, err := e.do(ctx, c, http.MethodPost, e.api+endpoint, form, e.basic)
		if err == nil && check != nil {
			err = check(body)
		}
		return err
	}
}

// get is a call that GETs a URL and expects 200.
func (e *env) get(u, authorization string) call {
	return func(ctx context.Context, _ int, c *http.Client) error {
		_, err := e.do(ctx, c, http.MethodGet, u, "", authorization)
		return err
	}
}

func (e *env) do(ctx context.Context, c *http.Client, method, u, form, authorization string) ([]byte, error) {
	return e.request(ctx, c, method, u, form, authorization, http.StatusOK)
}

// request makes one request and expects the status want.
func (e *env) request(ctx context.Context, c *http.Client, method, u, form, authorization string, want int) ([]byte, error) {
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

// token asks /token for a token outside any measurement.
func (e *env) token(ctx context.Context, form string) (*oauth.TokenResponse, error) {
	raw, err := e.do(ctx, http.DefaultClient, http.MethodPost, e.api+"/token", form, e.basic)
	if err != nil {
		return nil, err
	}
	var tok oauth.TokenResponse
	return &tok, json.Unmarshal(raw, &tok)
}

// prepareRefresh gives each worker its own refresh chain, started with a
// password grant; each call spends the current refresh token.
func prepareRefresh(ctx context.Context, e *env, conns int, _ time.Duration) (call, error) {
	chains := make([]string, conns)
	for i := range chains {
		tok, err := e.token(ctx, "grant_type=password&username="+e.username+"&password="+e.password)
		if err != nil {
			return nil, err
		}
		chains[i] = tok.RefreshToken
	}
	return func(ctx context.Context, w int, c *http.Client) error {
		raw, err := e.do(ctx, c, http.MethodPost, e.api+"/token",
			"grant_type=refresh_token&refresh_token="+url.QueryEscape(chains[w]), e.basic)
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

// revokeRate bounds how many tokens a revoke run may need per second.
const revokeRate = 25000

// prepareRevoke stores enough fresh tokens for the run in bulk; each call
// revokes a new one.
func prepareRevoke(ctx context.Context, e *env, _ int, d time.Duration) (call, error) {
	n := max(1000, int(d.Seconds()*revokeRate))
	d2, err := sqlite.Open(e.dbPath)
	if err != nil {
		return nil, err
	}
	defer d2.Close()
	client, err := d2.ClientByKey(ctx, e.key)
	if err != nil {
		return nil, err
	}
	plain := make([]string, n)
	stored := make([]*oauth.Token, n)
	now := time.Now()
	for i := range plain {
		plain[i] = oauth.NewSecret()
		h := oauth.HashOf(plain[i])
		stored[i] = &oauth.Token{AccessHash: h, FamilyID: h, KeyID: client.KeyID, UserID: client.OwnerID,
			Scopes: []string{"default"}, GrantType: oauth.GrantClientCredentials, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := d2.CreateTokens(ctx, stored); err != nil {
		return nil, err
	}
	var next atomic.Int64
	return func(ctx context.Context, _ int, c *http.Client) error {
		i := next.Add(1) - 1
		if i >= int64(n) {
			return errExhausted
		}
		_, err := e.do(ctx, c, http.MethodPost, e.api+"/revoke", "token="+plain[i], e.basic)
		return err
	}, nil
}

// result is one path at one connection count.
type result struct {
	path      string
	conns     int
	requests  int
	errors    int
	firstErr  error
	elapsed   time.Duration
	p50, p99  time.Duration
	peakRSS   int64 // bytes; 0 when unknown
	rssScoped bool  // peakRSS is this run's own peak, not the process's
}

func (r result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// suite runs every chosen path at every connection count.
func (e *env) suite(ctx context.Context, o *options) ([]result, error) {
	var out []result
	for _, name := range o.paths {
		p, _ := pathByName(name)
		for _, conns := range o.conns {
			r, err := e.run(ctx, o, p, conns)
			if err != nil {
				return nil, fmt.Errorf("prepare %s: %w", name, err)
			}
			r.path = name
			out = append(out, r)
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
		}
	}
	return out, nil
}

// run drives p at conns connections: with wrk when --wrk names it and p is
// a plain GET, else with the built-in client.
func (e *env) run(ctx context.Context, o *options, p path, conns int) (result, error) {
	if o.wrk != "" && p.target != nil {
		u, authorization, err := p.target(ctx, e)
		if err != nil {
			return result{}, err
		}
		return e.driveWrk(ctx, o.wrk, u, authorization, conns, o.duration), nil
	}
	c, err := p.prepare(ctx, e, conns, o.duration)
	if err != nil {
		return result{}, err
	}
	return e.drive(ctx, c, conns, o.duration), nil
}

// drive runs conns workers for d and measures them.
func (e *env) drive(ctx context.Context, c call, conns int, d time.Duration) result {
	scoped := resetPeakRSS(e.server.Process.Pid)
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
	r := result{conns: conns, elapsed: slices.MaxFunc(ends, time.Time.Compare).Sub(start), rssScoped: scoped}
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
	r.peakRSS = peakRSS(e.server.Process.Pid)
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

// printResults writes a Markdown table, then the gateway's overhead.
func printResults(w io.Writer, title string, results []result) {
	fmt.Fprintf(w, "### %s\n\n| path | conns | req/s | p50 | p99 | errors | server peak RSS |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n", title)
	for _, r := range results {
		rss := "?"
		if r.peakRSS > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(r.peakRSS)/(1<<20))
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %d | %s |\n", r.path, r.conns, r.rate(),
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.errors, rss)
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
	for _, r := range results {
		if r.firstErr != nil {
			fmt.Fprintf(w, "First error of %s at %d connections: %v\n", r.path, r.conns, r.firstErr)
		}
	}
	fmt.Fprintln(w)
}
