package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/portal"
)

// as makes the browser send a User-Agent, as a real one does.
func (b *browser) as(userAgent string) *browser {
	c := *b.client
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("User-Agent", userAgent)
		return next.RoundTrip(r)
	})
	return &browser{env: b.env, client: &c}
}

const (
	firefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	safariIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"
	chromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36"
)

var sessionIDs = regexp.MustCompile(`name="session" value="([0-9a-f]{64})"`)

// sessionRows are the ids of the sessions My account lists, in its order.
func (b *browser) sessionRows() []string {
	b.env.t.Helper()
	p := b.get("/store/account")
	if p.status != http.StatusOK {
		b.env.t.Fatalf("My account: %d", p.status)
	}
	var ids []string
	for _, m := range sessionIDs.FindAllStringSubmatch(p.body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// loggedIn reports whether the browser's session still works, as the
// next page it asks for says.
func (b *browser) loggedIn() bool {
	b.env.t.Helper()
	p := b.get("/store/applications")
	return p.status == http.StatusOK
}

func auditEvents(t *testing.T, env *storeEnv, event string) []portal.AuditEvent {
	t.Helper()
	all, err := env.db.AuditEvents(context.Background(), portal.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []portal.AuditEvent
	for _, e := range all {
		if e.Event == event {
			out = append(out, e)
		}
	}
	return out
}

func TestAccountPage(t *testing.T) {
	env := newStore(t)
	laptop := env.browser().as(firefoxLinux)
	laptop.signUp("alice", "alice-password")
	phone := env.browser().as(safariIPhone)
	phone.logIn("alice", "alice-password")

	p := laptop.get("/store/account")
	if p.status != http.StatusOK {
		t.Fatalf("My account: %d", p.status)
	}
	mustContain(t, p.body, "<h1>My account</h1>", `data-testid="account-username">alice<`, "alice@example.com", "subscriber",
		"Firefox on Linux", "Safari on iOS", "This session", `aria-current="page" data-testid="username">alice<`)
	if n := strings.Count(p.body, `data-testid="session"`); n != 2 {
		t.Errorf("%d sessions listed, want 2", n)
	}
	// This session comes first, tagged, whatever the other did since.
	p = phone.get("/store/account")
	first, tag, second := strings.Index(p.body, `data-testid="session"`), strings.Index(p.body, "This session"),
		strings.LastIndex(p.body, `data-testid="session"`)
	if !(first < tag && tag < second) || !strings.Contains(p.body[first:second], "Safari on iOS") {
		t.Error("the phone's page does not list the phone's session first, as This session")
	}
	// The header's name leads here from every page.
	mustContain(t, laptop.get("/store").body, `href="/store/account" title="My account" data-testid="username">alice<`)
}

func TestEndSessions(t *testing.T) {
	env := newStore(t)
	laptop := env.browser().as(firefoxLinux)
	laptop.signUp("alice", "alice-password")
	phone, office := env.browser().as(safariIPhone), env.browser().as(chromeWindows)
	phone.logIn("alice", "alice-password")
	office.logIn("alice", "alice-password")
	mallory := env.browser()
	mallory.signUp("mallory", "mallory-password")

	ids := laptop.sessionRows()
	if len(ids) != 3 {
		t.Fatalf("%d sessions listed, want 3", len(ids))
	}
	mine, phoneID := ids[0], phone.sessionRows()[0]

	t.Run("a forged form ends nothing", func(t *testing.T) {
		if p := laptop.post("/store/account/sessions/end", url.Values{"session": {phoneID}}); p.status != http.StatusForbidden {
			t.Errorf("without the form token: %d", p.status)
		}
		if p := laptop.post("/store/account/sessions/end-others", nil); p.status != http.StatusForbidden {
			t.Errorf("end others without the form token: %d", p.status)
		}
		if !phone.loggedIn() || !office.loggedIn() {
			t.Error("a forged form logged a session out")
		}
	})

	t.Run("another user's session is not theirs to end", func(t *testing.T) {
		p := mallory.submit("/store/account/sessions/end", url.Values{"session": {phoneID}})
		if p.status != http.StatusNotFound {
			t.Errorf("mallory ending alice's session: %d", p.status)
		}
		mustContain(t, p.body, "not one of yours")
		if !phone.loggedIn() {
			t.Error("mallory logged alice's phone out")
		}
		for _, bad := range []string{"", "zz", strings.Repeat("g", 64), mine[:63]} {
			if p := laptop.submit("/store/account/sessions/end", url.Values{"session": {bad}}); p.status != http.StatusNotFound {
				t.Errorf("session %q: %d", bad, p.status)
			}
		}
	})

	t.Run("an ended session is refused at its next request", func(t *testing.T) {
		p := laptop.submit("/store/account/sessions/end", url.Values{"session": {phoneID}})
		if p.status != http.StatusSeeOther || p.location != "/store/account#sessions" {
			t.Fatalf("end: %d to %q", p.status, p.location)
		}
		mustContain(t, laptop.get("/store/account").body, "The session is logged out.")
		if phone.loggedIn() {
			t.Error("the ended session still works")
		}
		if !laptop.loggedIn() || !office.loggedIn() {
			t.Error("ending one session ended another")
		}
		if p := laptop.submit("/store/account/sessions/end", url.Values{"session": {phoneID}}); p.status != http.StatusNotFound {
			t.Errorf("ending it again: %d", p.status)
		}
	})

	t.Run("log out all other sessions", func(t *testing.T) {
		phone.logIn("alice", "alice-password")
		p := laptop.submit("/store/account/sessions/end-others", nil)
		if p.status != http.StatusSeeOther {
			t.Fatalf("end others: %d", p.status)
		}
		mustContain(t, laptop.get("/store/account").body, "2 other sessions logged out.")
		if phone.loggedIn() || office.loggedIn() {
			t.Error("another session survived")
		}
		if !laptop.loggedIn() || !mallory.loggedIn() {
			t.Error("this session, or another user's, was logged out")
		}
		if ids := laptop.sessionRows(); len(ids) != 1 || ids[0] != mine {
			t.Errorf("sessions left: %v", ids)
		}
		laptop.submit("/store/account/sessions/end-others", nil)
		mustContain(t, laptop.get("/store/account").body, "There were no other sessions.")
	})

	t.Run("ending this session logs out", func(t *testing.T) {
		p := laptop.submit("/store/account/sessions/end", url.Values{"session": {mine}})
		if p.status != http.StatusSeeOther || p.location != "/store" {
			t.Errorf("end this session: %d to %q", p.status, p.location)
		}
		if laptop.loggedIn() {
			t.Error("still logged in")
		}
	})

	if got := auditEvents(t, env, portal.AuditSessionEnded); len(got) != 2 || got[0].Username != "alice" {
		t.Errorf("audit: %+v", got)
	}
}

func TestSessionLastActive(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	env := newStore(t, handlers.WithClock(clock))
	b := env.browser()
	b.signUp("alice", "alice-password")
	u, err := env.db.UserAccount(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	lastSeen := func() time.Time {
		list, err := env.db.UserSessions(context.Background(), u.ID, clock())
		if err != nil || len(list) != 1 {
			t.Fatalf("sessions: %v, %v", list, err)
		}
		return list[0].LastSeenAt
	}
	start := lastSeen()
	advance(time.Minute)
	b.get("/store")
	if got := lastSeen(); !got.Equal(start) {
		t.Errorf("touched after a minute: %v (a write per page would be too many)", got)
	}
	advance(5 * time.Minute)
	b.get("/store")
	if got := lastSeen(); !got.Equal(start.Add(6 * time.Minute)) {
		t.Errorf("last active %v, want %v", got, start.Add(6*time.Minute))
	}
	mustContain(t, b.get("/store/account").body, "2026-03-01 09:06:00 UTC", "2026-03-01 09:00:00 UTC")
}
