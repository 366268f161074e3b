package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// A mixed load on the binary, for the soak and crash tests: every grant
// (password, client_credentials, refresh, authorization code with PKCE),
// refresh-token replay, revocation, introspection, gateway calls, and
// applications and keys made on the store. A ledger records what the
// server confirmed, so that the tests can check it afterwards.

const loadCallback = "https://client.example.com/cb"

// loadFlags start the server the load drives: without a refresh grace
// period, so that its immediate replays revoke their chains (the grace
// period has its own tests, in grace_test.go).
var loadFlags = append(slices.Clone(anyPorts), "--refresh-grace", "0")

// loadEnv is a server set up for the load: alice (subscriber) with one
// application allowing every grant, subscribed to the sample API, and a
// remembered consent for it.
type loadEnv struct {
	s          *server
	id, secret string
	api        *http.Client
}

func newLoadEnv(t *testing.T, s *server) *loadEnv {
	t.Helper()
	s.admin(t, "alice-password\n", "user create", "--username", "alice")
	e := &loadEnv{s: s, api: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
	e.id, e.secret = appKeys(t, s, "--owner", "alice", "--name", "Load", "--callback-url", loadCallback,
		"--grant-types", "password,client_credentials,authorization_code,refresh_token")
	subscribe(t, s.dataDir, "alice", "/pizzashack")
	// Approve once with "Remember my decision": /authorize then answers at once.
	c := e.storeLogIn(t)
	authURL := e.authorizeURL("setup")
	status, consent := fetch(t, c, http.MethodGet, authURL, nil)
	if status != http.StatusOK {
		t.Fatalf("consent page: %d", status)
	}
	if resp, _ := submitForm(t, c, authURL, consent, url.Values{"decision": {"approve"}, "remember": {"on"}}); resp.StatusCode != http.StatusFound {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	return e
}

// storeLogIn returns a store client logged in as alice.
func (e *loadEnv) storeLogIn(t *testing.T) *http.Client {
	t.Helper()
	c := storeClient()
	_, page := fetch(t, c, http.MethodGet, e.s.urls["store"]+"/login", nil)
	if resp, _ := submitForm(t, c, e.s.urls["store"]+"/login", page, url.Values{"username": {"alice"}, "password": {"alice-password"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log in: %d", resp.StatusCode)
	}
	return c
}

// authorizeURL is a code request with an S256 challenge of verifier.
func (e *loadEnv) authorizeURL(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return e.s.urls["https"] + "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {e.id},
		"redirect_uri": {loadCallback}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}}.Encode()
}

// ledger is what the server confirmed during a load.
type ledger struct {
	mu       sync.Mutex
	live     map[string]bool // tokens answered with 200 and not revoked since
	revoked  []string        // tokens whose revocation (or family revocation) was confirmed
	apps     []string        // applications whose creation was confirmed
	keys     [][2]string     // consumer keys and secrets shown by Generate
	problems []string        // 5xx answers, "database is locked", wrong answers
	ops      map[string]int
}

func newLedger() *ledger { return &ledger{live: map[string]bool{}, ops: map[string]int{}} }

func (l *ledger) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.problems) < 50 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

func (l *ledger) issued(op string, tokens ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops[op]++
	for _, tok := range tokens {
		if tok != "" {
			l.live[tok] = true
		}
	}
}

func (l *ledger) revoke(op string, tokens ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops[op]++
	for _, tok := range tokens {
		delete(l.live, tok)
		l.revoked = append(l.revoked, tok)
	}
}

// forget drops tokens from the live set before a request that may end
// them: if the server dies meanwhile, whether it did is unknown.
func (l *ledger) forget(tokens ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, tok := range tokens {
		delete(l.live, tok)
	}
}

func (l *ledger) count(op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops[op]++
}

// call sends a request and reads the answer; err is a transport failure
// (the server is gone). 5xx and "database is locked" are problems.
func (e *loadEnv) call(l *ledger, c *http.Client, req *http.Request) (int, string, http.Header, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil, err
	}
	if resp.StatusCode >= 500 || strings.Contains(string(b), "database is locked") {
		l.problem("%s %s: %d %.200s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	return resp.StatusCode, string(b), resp.Header, nil
}

// post sends a client-authenticated form to an OAuth endpoint.
func (e *loadEnv) post(l *ledger, path string, form url.Values) (int, map[string]any, http.Header, error) {
	req, _ := http.NewRequest(http.MethodPost, e.s.urls["http"]+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.id, e.secret)
	status, body, hdr, err := e.call(l, e.api, req)
	var out map[string]any
	if err == nil && strings.HasPrefix(body, "{") {
		_ = json.Unmarshal([]byte(body), &out)
	}
	return status, out, hdr, err
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// worker is one client of the load: it runs operations until ctx ends or
// the server goes away. withStore workers also use the store (codes,
// applications, keys).
type worker struct {
	e        *loadEnv
	l        *ledger
	n        int
	store    *http.Client // logged-in store client; nil for API-only workers
	mine     []string     // this worker's live tokens
	chain    []string     // tokens of the current refresh chain
	refresh  string       // the chain's current refresh token
	previous string       // the chain's last used refresh token
	gone     []string     // this worker's revoked tokens
}

// run loops over the operations until ctx is done or a call fails at the
// transport (the server was killed).
func (w *worker) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		if err := w.step(i); err != nil {
			return
		}
	}
}

func (w *worker) step(i int) error {
	e, l := w.e, w.l
	switch op := (w.n + i) % 16; {
	case op == 0 || w.refresh == "" && op < 6:
		status, body, _, err := e.post(l, "/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}})
		if err != nil || status != http.StatusOK {
			return w.unexpected(err, "password grant", status)
		}
		w.refresh, w.previous = str(body, "refresh_token"), ""
		w.chain = []string{str(body, "access_token"), w.refresh}
		l.issued("password", w.chain...)
	case op <= 3, (op == 13 || op == 14) && w.store == nil:
		status, body, _, err := e.post(l, "/token", url.Values{"grant_type": {"client_credentials"}})
		if err != nil || status != http.StatusOK {
			return w.unexpected(err, "client_credentials", status)
		}
		w.mine = append(w.mine, str(body, "access_token"))
		l.issued("client_credentials", str(body, "access_token"))
	case op <= 5:
		l.forget(w.refresh) // once used, a refresh token is no longer a grant
		status, body, _, err := e.post(l, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w.refresh}})
		if err != nil || status != http.StatusOK {
			return w.unexpected(err, "refresh", status)
		}
		w.previous, w.refresh = w.refresh, str(body, "refresh_token")
		w.chain = append(w.chain[:len(w.chain)-1], str(body, "access_token"), w.refresh)
		l.issued("refresh", str(body, "access_token"), w.refresh)
	case op == 6:
		if w.previous == "" || i%3 != 0 {
			return nil
		}
		// Replaying a used refresh token revokes its whole chain.
		l.forget(w.chain...)
		status, body, _, err := e.post(l, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w.previous}})
		if err != nil || status != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
			return w.unexpected(err, "refresh replay", status)
		}
		l.revoke("refresh replay", w.chain...)
		w.gone = append(w.gone, w.chain...)
		w.chain, w.refresh, w.previous = nil, "", ""
	case op <= 8, op == 15:
		tok, want := w.pick(op == 15)
		if tok == "" {
			return nil
		}
		status, body, _, err := e.post(l, "/introspect", url.Values{"token": {tok}})
		if err != nil {
			return err
		}
		if status != http.StatusOK || body["active"] != want {
			l.problem("introspect: %d %v, want active %v", status, body, want)
		}
		l.count("introspect")
	case op == 9:
		if len(w.mine) == 0 {
			return nil
		}
		tok := w.mine[len(w.mine)-1]
		w.mine = w.mine[:len(w.mine)-1]
		l.forget(tok)
		status, _, hdr, err := e.post(l, "/revoke", url.Values{"token": {tok}})
		if err != nil || status != http.StatusOK || hdr.Get("RevokedAccessToken") != tok {
			return w.unexpected(err, "revoke", status)
		}
		l.revoke("revoke", tok)
		w.gone = append(w.gone, tok)
	case op <= 12:
		tok, live := w.pick(i%4 == 0)
		if tok == "" {
			return nil
		}
		req, _ := http.NewRequest(http.MethodGet, e.s.urls["http"]+"/pizzashack/1.0.0/menu", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		status, _, _, err := e.call(l, e.api, req)
		if err != nil {
			return err
		}
		if want := map[bool]int{true: http.StatusOK, false: http.StatusUnauthorized}[live]; status != want {
			l.problem("gateway with a token live=%v: %d", live, status)
		}
		l.count("gateway")
	case op == 13:
		verifier := fmt.Sprintf("verifier-%d-%d-%032d", w.n, i, rand.Int64())
		req, _ := http.NewRequest(http.MethodGet, e.authorizeURL(verifier), nil)
		status, _, hdr, err := e.call(l, w.store, req)
		if err != nil || status != http.StatusFound {
			return w.unexpected(err, "authorize", status)
		}
		loc, _ := url.Parse(hdr.Get("Location"))
		status, body, _, err := e.post(l, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
			"redirect_uri": {loadCallback}, "code_verifier": {verifier}})
		if err != nil || status != http.StatusOK {
			return w.unexpected(err, "code exchange", status)
		}
		w.mine = append(w.mine, str(body, "access_token"))
		l.issued("authorization_code", str(body, "access_token"), str(body, "refresh_token"))
	case op == 14:
		return w.newApplication(i)
	}
	return nil
}

// pick returns one of the worker's live tokens, or of its revoked ones.
func (w *worker) pick(revoked bool) (string, bool) {
	list := w.mine
	if revoked {
		list = w.gone
	}
	if len(list) == 0 {
		return "", false
	}
	return list[rand.IntN(len(list))], !revoked
}

// unexpected records a wrong answer; a transport error ends the worker.
func (w *worker) unexpected(err error, what string, status int) error {
	if err != nil {
		return err
	}
	w.l.problem("%s: %d", what, status)
	return nil
}

var (
	csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	appLink   = regexp.MustCompile(`<strong>([^<]+)</strong>(?s:.*?)subscriptions\?app=(\d+)`)
	shownKey  = regexp.MustCompile(`data-testid="production-consumer-key">([^<]+)<`)
	shownSec  = regexp.MustCompile(`data-testid="production-consumer-secret">([^<]+)<`)
)

// newApplication adds an application on the store and generates its
// production keys, as a developer does.
func (w *worker) newApplication(i int) error {
	e, l, c := w.e, w.l, w.store
	store := e.s.urls["store"]
	get := func(path string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, store+path, nil)
		status, body, _, err := e.call(l, c, req)
		return status, body, err
	}
	post := func(path string, form url.Values, token string) (int, string, error) {
		form.Set("csrf_token", token)
		req, _ := http.NewRequest(http.MethodPost, store+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		status, body, _, err := e.call(l, c, req)
		return status, body, err
	}
	_, page, err := get("/applications/new")
	if err != nil {
		return err
	}
	token := csrfField.FindStringSubmatch(page)
	if token == nil {
		l.problem("no form token on the new application page")
		return nil
	}
	name := fmt.Sprintf("App-%d-%d", w.n, i)
	status, _, err := post("/applications", url.Values{"name": {name}, "tier": {"Unlimited"}}, token[1])
	if err != nil || status != http.StatusSeeOther {
		return w.unexpected(err, "add application", status)
	}
	l.mu.Lock()
	l.apps = append(l.apps, name)
	l.mu.Unlock()
	_, list, err := get("/applications")
	if err != nil {
		return err
	}
	id := ""
	for _, m := range appLink.FindAllStringSubmatch(list, -1) {
		if m[1] == name {
			id = m[2]
		}
	}
	status, page, err = post("/subscriptions/"+id+"/production/generate", url.Values{"validity": {"3600"},
		"grant_types": {"client_credentials"}}, token[1])
	if err != nil || status != http.StatusOK {
		return w.unexpected(err, "generate keys", status)
	}
	key, secret := shownKey.FindStringSubmatch(page), shownSec.FindStringSubmatch(page)
	if key == nil || secret == nil {
		l.problem("Generate showed no key for %s", name)
		return nil
	}
	l.mu.Lock()
	l.keys = append(l.keys, [2]string{key[1], secret[1]})
	l.ops["application and keys"]++
	l.mu.Unlock()
	return nil
}

// workers returns clients workers recording into l; every fourth also
// uses the store, logged in beforehand.
func (e *loadEnv) workers(t *testing.T, clients int, l *ledger) []*worker {
	ws := make([]*worker, clients)
	for n := range ws {
		ws[n] = &worker{e: e, l: l, n: n}
		if n%4 == 0 {
			ws[n].store = e.storeLogIn(t)
		}
	}
	return ws
}

// runWorkers runs the workers until ctx is done or the server is gone.
func runWorkers(ctx context.Context, ws []*worker) {
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
}

// verify checks, against the running server, that every token the ledger
// holds live is active and every revoked one is not, that the keys shown
// by Generate work, and that the confirmed applications exist.
func (e *loadEnv) verify(t *testing.T, l *ledger) {
	t.Helper()
	check := newLedger() // collects problems of the checks themselves
	var tokens []string
	for tok := range l.live {
		tokens = append(tokens, tok)
	}
	want := map[string]bool{}
	for _, tok := range tokens {
		want[tok] = true
	}
	for _, tok := range l.revoked {
		want[tok] = false
		tokens = append(tokens, tok)
	}
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for tok := range jobs {
				status, body, _, err := e.post(check, "/introspect", url.Values{"token": {tok}})
				if err != nil || status != http.StatusOK || body["active"] != want[tok] {
					check.problem("token %.8s…: %v %d %v, want active %v", tok, err, status, body, want[tok])
				}
			}
		})
	}
	for _, tok := range tokens {
		jobs <- tok
	}
	close(jobs)
	wg.Wait()
	for _, k := range l.keys {
		status, _ := postOAuth(t, e.api, e.s.urls["http"]+"/token", k[0], k[1], url.Values{"grant_type": {"client_credentials"}})
		if status != http.StatusOK {
			check.problem("key %s from Generate: %d", k[0], status)
		}
	}
	if len(l.apps) > 0 {
		_, list := fetch(t, e.storeLogIn(t), http.MethodGet, e.s.urls["store"]+"/applications", nil)
		for _, name := range l.apps {
			if !strings.Contains(list, "<strong>"+name+"</strong>") {
				check.problem("application %s is missing", name)
			}
		}
	}
	for _, p := range check.problems {
		t.Error(p)
	}
	t.Logf("checked %d tokens (%d revoked), %d keys, %d applications", len(tokens), len(l.revoked), len(l.keys), len(l.apps))
}
