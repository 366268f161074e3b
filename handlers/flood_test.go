package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/web"
)

// newStoreBehindProxy is newStore behind a trusted proxy on loopback, so
// that a browser's requests can come from any address (see from).
func newStoreBehindProxy(t *testing.T, opts ...handlers.Option) *storeEnv {
	t.Helper()
	d, _ := fixture.Docs(t)
	o := oauth.NewServer(d, oauth.Validity{}, nil)
	cfg := web.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	srv := httptest.NewTLSServer(web.New(cfg, handlers.New(o, d, opts...)).Store())
	t.Cleanup(srv.Close)
	return &storeEnv{t: t, db: d, oauth: o, srv: srv}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// from makes the browser's requests come from addr, as the trusted proxy
// of newStoreBehindProxy says, over connections of its own.
func (b *browser) from(addr string) *browser {
	c := *b.client
	next := c.Transport.(*http.Transport).Clone()
	c.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Forwarded-For", addr)
		return next.RoundTrip(r)
	})
	return &browser{env: b.env, client: &c}
}

// TestSignUpFloodDoesNotDelayOthers: 30 sign-ups at once from one address
// (each an argon2id hash) get the first ten accounts made and the rest
// refused (429), and meanwhile a log-in from another address is not kept
// waiting behind the flood's hashes.
//
// Hashes run at most one per core at once, and a free slot goes to the
// address with the fewest running (oauth's passwordQueue), so the log-in
// waits for one running hash to end, then runs its own beside the flood's:
// it ends while most of the flood's ten hashes are still to come. Before,
// it waited for every hash queued ahead of it and ended after all of them.
// The test checks that order (how many of the flood's accounts are made
// after the log-in ends) rather than times, which a busy machine stretches
// for the log-in's database work as much as for the hashes.
// TestPasswordQueueIsFair (oauth) checks the queue's order exactly.
func TestSignUpFloodDoesNotDelayOthers(t *testing.T) {
	env := newStoreBehindProxy(t)
	victim := env.browser().from("198.51.100.7")
	victim.signUp("grace", "grace-password")
	token := victim.token() // a log-in starts a new session, with a new form token

	flood := make([]*browser, 30)
	tokens := make([]string, len(flood))
	for i := range flood {
		flood[i] = env.browser().from("192.0.2.1")
		tokens[i] = flood[i].token()
	}
	type answer struct {
		status int
		at     time.Time
	}
	answers := make(chan answer, len(flood))
	firstMade := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for i, b := range flood {
		wg.Go(func() {
			name := "flood" + strconv.Itoa(i)
			status := b.post("/store/signup", url.Values{"csrf_token": {tokens[i]}, "username": {name},
				"password": {"flood-password"}, "password_confirm": {"flood-password"}, "email": {name + "@example.com"}}).status
			answers <- answer{status, time.Now()}
			if status == http.StatusSeeOther {
				once.Do(func() { close(firstMade) })
			}
		})
	}
	// Once the flood's first account is made, its other hashes run or wait
	// for a slot.
	select {
	case <-firstMade:
	case <-time.After(time.Minute):
		t.Fatal("no sign-up of the flood was made in a minute")
	}
	p := victim.post("/store/login", url.Values{"csrf_token": {token}, "username": {"grace"}, "password": {"grace-password"}})
	loggedIn := time.Now()
	if p.status != http.StatusSeeOther {
		t.Fatalf("log-in: %d", p.status)
	}
	wg.Wait()
	close(answers)
	counts := map[int]int{}
	after := 0
	for a := range answers {
		counts[a.status]++
		if a.status == http.StatusSeeOther && a.at.After(loggedIn) {
			after++
		}
	}
	if counts[http.StatusSeeOther] != 10 || counts[http.StatusTooManyRequests] != 20 {
		t.Errorf("30 sign-ups at once from one address: %v; want 10 made (303) and 20 refused (429)", counts)
	}
	t.Logf("accounts of the flood made after the log-in ended: %d of 10", after)
	if after < 2 {
		t.Errorf("the log-in ended after %d of the flood's 10 accounts were made; want it served before most of them (at least 2 after it)", 10-after)
	}
}

// TestSignUpLimit: ten sign-ups from one address within 15 minutes of each
// other, then the form says to wait (429, Retry-After); another address
// signs up as usual; 15 minutes later the first may again. A taken name is
// said as before, whatever the count.
func TestSignUpLimit(t *testing.T) {
	clock := fixture.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	env := newStoreBehindProxy(t, handlers.WithClock(clock.Now))
	form := func(name string) url.Values {
		return url.Values{"username": {name}, "password": {"a-password"}, "password_confirm": {"a-password"}, "email": {name + "@example.com"}}
	}
	for i := range 10 {
		env.browser().from("192.0.2.1").signUp("user"+strconv.Itoa(i), "a-password")
	}
	if p := env.browser().from("192.0.2.1").submit("/store/signup", form("user0")); p.status != http.StatusUnprocessableEntity {
		t.Errorf("a taken name: %d, want 422 (the limit does not apply to it)", p.status)
	}
	p := env.browser().from("192.0.2.1").submit("/store/signup", form("eleventh"))
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "900" {
		t.Fatalf("eleventh sign-up: %d, Retry-After %q; want 429 and 900", p.status, p.header.Get("Retry-After"))
	}
	mustContain(t, p.body, "Too many sign-ups from your address. Wait 15 minutes")
	env.browser().from("198.51.100.7").signUp("elsewhere", "a-password")
	clock.Advance(15 * time.Minute)
	env.browser().from("192.0.2.1").signUp("eleventh", "a-password")
}
