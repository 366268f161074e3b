package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
)

// graceEnv is alice with a few applications on one or more nodes sharing a
// store: two on PostgreSQL, so that concurrent refreshes of one token
// reach different nodes; one on SQLite.
type graceEnv struct {
	nodes []*server
	keys  [][2]string // consumer key and secret of each application
	c     *http.Client
}

func newGraceEnv(t *testing.T, apps int, flags ...string) *graceEnv {
	t.Helper()
	dir := newDataDir(t)
	flags = append(append([]string{}, anyPorts...), flags...)
	e := &graceEnv{nodes: []*server{startServer(t, dir, nil, flags...)},
		c: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}, Timeout: time.Minute}}
	if fixture.Postgres() {
		second := t.TempDir()
		databases.Store(second, databaseOf(dir))
		e.nodes = append(e.nodes, startServer(t, second, nil, flags...))
	}
	e.nodes[0].admin(t, "alice-password\n", "user create", "--username", "alice")
	for i := range apps {
		id, secret := appKeys(t, e.nodes[0], "--owner", "alice", "--name", fmt.Sprintf("Grace %d", i),
			"--grant-types", "password,refresh_token")
		e.keys = append(e.keys, [2]string{id, secret})
	}
	return e
}

// post sends a form to a node's endpoint with the key of application app;
// it may run on any goroutine.
func (e *graceEnv) post(node, app int, path string, form url.Values) (int, map[string]any, error) {
	s := e.nodes[node%len(e.nodes)]
	req, _ := http.NewRequest(http.MethodPost, s.urls["http"]+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.keys[app][0], e.keys[app][1])
	resp, err := e.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s: not JSON: %q", path, b)
	}
	return resp.StatusCode, body, nil
}

// chain is one client's refresh chain: its application, its newest tokens
// and the refresh token it used last.
type chain struct {
	app              int
	access, refresh  string
	previous         string
	previousAccesses []string
}

// start gets the chain's first tokens with the password grant, one at a
// time (password hashing is made to be slow).
func (e *graceEnv) start(t *testing.T, n int) []*chain {
	t.Helper()
	chains := make([]*chain, n)
	for i := range chains {
		ch := &chain{app: i % len(e.keys)}
		status, body, err := e.post(i, ch.app, "/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}})
		if err != nil || status != http.StatusOK {
			t.Fatalf("password grant %d: %d %v %v", i, status, body, err)
		}
		ch.access, ch.refresh = body["access_token"].(string), body["refresh_token"].(string)
		chains[i] = ch
	}
	return chains
}

// active asks a node whether a token is active, with the chain's key.
func (e *graceEnv) active(t *testing.T, node int, ch *chain, token string) bool {
	t.Helper()
	status, body, err := e.post(node, ch.app, "/introspect", url.Values{"token": {token}})
	if err != nil || status != http.StatusOK {
		t.Fatalf("introspect: %d %v %v", status, body, err)
	}
	return body["active"] == true
}

// TestRefreshGraceUnderConcurrency: 64 clients each refresh their chain
// with 2 to 4 concurrent requests for the same refresh token, spread over
// the nodes, then retry once as after a lost response, for several rounds,
// with the default --refresh-grace: every request gets 200 and, within a
// round, the very same tokens; no spurious invalid_grant, no chain
// revoked. Then a used refresh token presented by another client revokes
// its chain, and only its chain.
func TestRefreshGraceUnderConcurrency(t *testing.T) {
	const clients, rounds = 64, 3
	e := newGraceEnv(t, 4)
	chains := e.start(t, clients)
	var mu sync.Mutex
	var problems []string
	var requests, invalidGrants int
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	var wg sync.WaitGroup
	for i, ch := range chains {
		wg.Go(func() {
			for round := range rounds {
				k := 2 + (i+round)%3 // 2, 3 or 4 at once
				type answer struct {
					status int
					body   map[string]any
					err    error
				}
				answers := make([]answer, k+1)
				var at sync.WaitGroup
				start := make(chan struct{})
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ch.refresh}}
				for j := range k {
					at.Go(func() {
						<-start
						a := &answers[j]
						a.status, a.body, a.err = e.post(i+j, ch.app, "/token", form)
					})
				}
				close(start)
				at.Wait()
				// A response lost: the client sends the request again.
				a := &answers[k]
				a.status, a.body, a.err = e.post(i+k, ch.app, "/token", form)
				mu.Lock()
				requests += len(answers)
				for _, a := range answers {
					if a.body["error"] == "invalid_grant" {
						invalidGrants++
					}
				}
				mu.Unlock()
				for j, a := range answers {
					switch {
					case a.err != nil || a.status != http.StatusOK:
						problem("client %d round %d request %d of %d: %d %v %v", i, round, j, k+1, a.status, a.body, a.err)
					case a.body["access_token"] != answers[0].body["access_token"] || a.body["refresh_token"] != answers[0].body["refresh_token"]:
						problem("client %d round %d: request %d got other tokens than request 0", i, round, j)
					}
				}
				if answers[0].status != http.StatusOK {
					return
				}
				ch.previous, ch.refresh = ch.refresh, answers[0].body["refresh_token"].(string)
				ch.previousAccesses = append(ch.previousAccesses, ch.access)
				ch.access = answers[0].body["access_token"].(string)
			}
		})
	}
	wg.Wait()
	t.Logf("%d refresh requests from %d clients, %d invalid_grant", requests, clients, invalidGrants)
	for _, p := range problems {
		t.Error(p)
	}
	if invalidGrants != 0 || len(problems) > 0 {
		t.FailNow()
	}
	for i, ch := range chains {
		if !e.active(t, i, ch, ch.access) {
			t.Fatalf("client %d: its newest access token is inactive", i)
		}
	}
	// The metrics count the tokens issued, not the answers repeated.
	var issued float64
	for _, s := range e.nodes {
		m := regexp.MustCompile(`metrics: (http://\S+)`).FindStringSubmatch(s.log())
		if m == nil {
			t.Fatalf("no metrics URL in the log:\n%s", s.log())
		}
		issued += value(scrape(t, m[1]), "apistore_oauth_tokens_issued_total", "grant_type", "refresh_token")
	}
	if issued != clients*rounds {
		t.Errorf("%v refresh tokens counted as issued, want %d", issued, clients*rounds)
	}

	// A used refresh token from another client, within the grace period:
	// a replay, which revokes that chain and no other.
	for i, ch := range chains {
		if i%8 != 0 {
			continue
		}
		status, body, err := e.post(i, (ch.app+1)%len(e.keys), "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ch.previous}})
		if err != nil || status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("client %d's used refresh token from another client: %d %v %v", i, status, body, err)
		}
	}
	for i, ch := range chains {
		replayed := i%8 == 0
		for j, tok := range append(ch.previousAccesses, ch.access) {
			if e.active(t, i+1, ch, tok) == replayed {
				t.Errorf("client %d (replayed: %v): access token %d active: %v", i, replayed, j, !replayed)
			}
		}
		if replayed {
			// The chain's own client retrying now gets no answer either.
			status, body, _ := e.post(i, ch.app, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ch.previous}})
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("client %d's retry after the replay: %d %v", i, status, body)
			}
		}
	}
}

// TestRefreshReplayAfterGrace: once the grace period (here 1s) is over, a
// used refresh token presented again by its own client is a replay and
// revokes its chain, on every node.
func TestRefreshReplayAfterGrace(t *testing.T) {
	e := newGraceEnv(t, 2, "--refresh-grace", "1s")
	chains := e.start(t, 4)
	for i, ch := range chains {
		status, body, err := e.post(i, ch.app, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ch.refresh}})
		if err != nil || status != http.StatusOK {
			t.Fatalf("refresh %d: %d %v %v", i, status, body, err)
		}
		ch.previous, ch.refresh = ch.refresh, body["refresh_token"].(string)
		ch.previousAccesses, ch.access = []string{ch.access}, body["access_token"].(string)
	}
	time.Sleep(1100 * time.Millisecond) // every grace period began before the sleep
	for i, ch := range chains {
		status, body, err := e.post(i+1, ch.app, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ch.previous}})
		if err != nil || status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("replay %d after the grace period: %d %v %v", i, status, body, err)
		}
		if e.active(t, i, ch, ch.access) || e.active(t, i, ch, ch.previousAccesses[0]) {
			t.Errorf("chain %d still active after a replay past the grace period", i)
		}
		status, body, _ = e.post(i, ch.app, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ch.refresh}})
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("chain %d's newest refresh token after the replay: %d %v", i, status, body)
		}
	}
}
