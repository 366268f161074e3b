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

// TestSignUpFloodDoesNotDelayOthers: 15 sign-ups at once from each of three
// addresses (each an argon2id hash) get ten accounts made per address and
// the rest refused (429), and meanwhile a log-in from another address is
// not kept waiting behind the flood's 30 hashes.
//
// Hashes run at most one per core at once, and a free slot goes to the
// address with the fewest running (oauth's passwordQueue), so the log-in
// waits for one running hash to end, then runs its own beside the flood's:
// it ends while most of the flood's hashes are still to come. With a queue
// in arrival order it would wait for every hash queued ahead of it and end
// after all of them. The test checks that order (how many of the flood's
// accounts are made after the log-in ends) rather than times, and floods
// from three addresses so that the flood outlasts, many times over, the
// log-in's own database work, which a busy machine (or a slow disk under a
// PostgreSQL store) stretches as much as the hashes.
// TestPasswordQueueIsFair (oauth) checks the queue's order exactly.
func TestSignUpFloodDoesNotDelayOthers(t *testing.T) {
	env := newStoreBehindProxy(t)
	victim := env.browser().from("198.51.100.7")
	victim.signUp("grace", "grace-password")
	token := victim.token() // a log-in starts a new session, with a new form token

	addrs := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}
	const perAddr = 15
	type answer struct {
		addr   string
		status int
		at     time.Time
	}
	answers := make(chan answer, perAddr*len(addrs))
	var wg sync.WaitGroup
	type signup struct {
		addr, name, token string
		b                 *browser
	}
	before := subscribers(t, env)
	var flood []signup // every form first, then every sign-up at once
	for _, addr := range addrs {
		for range perAddr {
			b := env.browser().from(addr)
			flood = append(flood, signup{addr, "flood" + strconv.Itoa(len(flood)), b.token(), b})
		}
	}
	for _, s := range flood {
		wg.Go(func() {
			status := s.b.post("/store/signup", url.Values{"csrf_token": {s.token}, "username": {s.name},
				"password": {"flood-password"}, "password_confirm": {"flood-password"}, "email": {s.name + "@example.com"}}).status
			answers <- answer{s.addr, status, time.Now()}
		})
	}
	// Once the flood's first account is made (its hash done), its other
	// hashes run or wait for a slot.
	for deadline := time.Now().Add(time.Minute); subscribers(t, env) == before; {
		if time.Now().After(deadline) {
			t.Fatal("no sign-up of the flood was made in a minute")
		}
		time.Sleep(time.Millisecond)
	}
	p := victim.post("/store/login", url.Values{"csrf_token": {token}, "username": {"grace"}, "password": {"grace-password"}})
	loggedIn := time.Now()
	if p.status != http.StatusSeeOther {
		t.Fatalf("log-in: %d", p.status)
	}
	wg.Wait()
	close(answers)
	counts := map[string]map[int]int{}
	made, after := 0, 0
	for a := range answers {
		if counts[a.addr] == nil {
			counts[a.addr] = map[int]int{}
		}
		counts[a.addr][a.status]++
		if a.status == http.StatusSeeOther {
			made++
			if a.at.After(loggedIn) {
				after++
			}
		}
	}
	for _, addr := range addrs {
		if c := counts[addr]; c[http.StatusSeeOther] != 10 || c[http.StatusTooManyRequests] != perAddr-10 {
			t.Errorf("%d sign-ups at once from %s: %v; want 10 made (303) and %d refused (429)", perAddr, addr, c, perAddr-10)
		}
	}
	t.Logf("accounts of the flood made after the log-in ended: %d of %d", after, made)
	if after < made/3 {
		t.Errorf("the log-in ended after %d of the flood's %d accounts were made; want it served before most of them (at least %d after it)", made-after, made, made/3)
	}
}

// subscribers counts the store's subscribers, as sign-up makes them.
func subscribers(t *testing.T, env *storeEnv) int {
	t.Helper()
	n, err := env.db.CountUsersWithRole(t.Context(), 0, "subscriber")
	if err != nil {
		t.Fatal(err)
	}
	return n
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
