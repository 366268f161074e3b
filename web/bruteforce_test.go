package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/web"
)

// lockoutEnv is the API application on fixture.Docs with a settable clock.
type lockoutEnv struct {
	url   string
	db    db.Store
	key   fixture.Key
	clock *fixture.Clock
}

func newLockoutEnv(t *testing.T) *lockoutEnv {
	d, key := fixture.Docs(t)
	clock := fixture.NewClock(time.Now())
	h := handlers.New(oauth.NewServer(d, oauth.Validity{}, clock.Now), d, handlers.WithClock(clock.Now))
	ts := httptest.NewServer(web.New(web.Config{DataDir: t.TempDir()}, h).API())
	t.Cleanup(ts.Close)
	return &lockoutEnv{url: ts.URL, db: d, key: key, clock: clock}
}

// post sends a form to path and returns the status, the Retry-After header
// and the error code.
func (e *lockoutEnv) post(t *testing.T, path, id, secret string, form url.Values) (int, string, string) {
	t.Helper()
	resp, body := sendForm(t, http.DefaultClient, e.url+path, form.Encode(), map[string]string{"Authorization": basic(id, secret)})
	code := ""
	if i := strings.Index(body, `"error":"`); i >= 0 {
		code = strings.SplitN(body[i+9:], `"`, 2)[0]
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), code
}

func password(user, pw string) url.Values {
	return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}
}

// TestPasswordGrantLockout: five wrong passwords lock a username for 15
// minutes, for the right password too; an unknown username gets exactly the
// same answers; other users are not affected.
func TestPasswordGrantLockout(t *testing.T) {
	e := newLockoutEnv(t)
	id, secret := e.key.ConsumerKey, e.key.Secret
	answers := map[string][]string{}
	for _, user := range []string{"alice", "nobody"} {
		for range 5 {
			status, _, code := e.post(t, "/token", id, secret, password(user, "wrong-password"))
			answers[user] = append(answers[user], http.StatusText(status)+" "+code)
		}
		status, retry, code := e.post(t, "/token", id, secret, password(user, "alice-password"))
		answers[user] = append(answers[user], http.StatusText(status)+" "+code)
		if status != http.StatusTooManyRequests || retry != "900" || code != oauth.ErrCodeTemporarilyUnavailable {
			t.Errorf("%s after 5 failures: %d Retry-After %q %s", user, status, retry, code)
		}
	}
	if strings.Join(answers["alice"], ",") != strings.Join(answers["nobody"], ",") {
		t.Errorf("existing and unknown users answered differently:\n%v\n%v", answers["alice"], answers["nobody"])
	}
	if status, _, _ := e.post(t, "/token", id, secret, password("root", "root-password")); status != http.StatusOK {
		t.Errorf("another user is locked out too: %d", status)
	}
	e.clock.Advance(15 * time.Minute)
	if status, _, code := e.post(t, "/token", id, secret, password("alice", "alice-password")); status != http.StatusOK {
		t.Errorf("after 15 minutes: %d %s", status, code)
	}
	events, err := e.db.AuditEvents(t.Context(), portal.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// Ten failures, and the lock each username's fifth one engaged; the
	// unknown username is masked (it may be a password typed in the wrong
	// field), the known one is not.
	if len(events) != 12 || events[0].Event != portal.AuditLockout || !strings.HasPrefix(events[0].Username, "(unknown user ") ||
		events[0].Remote == "" || strings.Contains(events[0].Detail, "nobody") ||
		events[1].Event != portal.AuditLoginFailed || events[1].Username != events[0].Username ||
		events[6].Event != portal.AuditLockout || events[6].Username != "alice" {
		t.Errorf("audit: %d events, latest %+v, %+v, alice's lockout %+v", len(events), events[0], events[1], events[min(6, len(events)-1)])
	}
}

// TestUnknownConsumerKeysAreMaskedInTheAuditTrail: a consumer key that
// matches no application may be a secret pasted in the wrong field; failed
// client authentications record it masked, a known key as it is.
func TestUnknownConsumerKeysAreMaskedInTheAuditTrail(t *testing.T) {
	e := newLockoutEnv(t)
	const typed = "s3cr3t-pasted-as-the-key"
	e.post(t, "/token", typed, "x", url.Values{"grant_type": {"client_credentials"}})
	e.post(t, "/token", e.key.ConsumerKey, "wrong", url.Values{"grant_type": {"client_credentials"}})
	events, err := e.db.AuditEvents(t.Context(), portal.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Client != e.key.ConsumerKey || !strings.HasPrefix(events[1].Client, "(unknown key ") ||
		strings.Contains(events[1].Client+events[1].Detail, typed) {
		t.Errorf("audit: %+v", events)
	}
}

// TestConcurrentGuessesAreCounted: a burst of concurrent wrong passwords
// gets no more of them checked than the limit allows; the rest wait for the
// first to fail and are refused, and the right password afterwards too.
func TestConcurrentGuessesAreCounted(t *testing.T) {
	e := newLockoutEnv(t)
	id, secret := e.key.ConsumerKey, e.key.Secret
	statuses := make(chan int, 30)
	var wg sync.WaitGroup
	for range cap(statuses) {
		wg.Go(func() {
			status, _, _ := e.post(t, "/token", id, secret, password("alice", "wrong-password"))
			statuses <- status
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusBadRequest] != 5 || counts[http.StatusTooManyRequests] != 25 {
		t.Errorf("30 concurrent guesses: %v; want 5 checked (400) and 25 refused (429)", counts)
	}
	if status, _, _ := e.post(t, "/token", id, secret, password("alice", "alice-password")); status != http.StatusTooManyRequests {
		t.Errorf("the right password after the burst: %d", status)
	}
}

// TestASuccessClearsFailures: a user's and a client's failures end with
// their next success, so failures short of the limit, a success and as
// many failures again lock neither (4 and 5 each time, under the limits
// of 5 and 10 but over them together; 18 for the address, under its 20).
func TestASuccessClearsFailures(t *testing.T) {
	e := newLockoutEnv(t)
	id, secret := e.key.ConsumerKey, e.key.Secret
	cc := url.Values{"grant_type": {"client_credentials"}}
	for round := range 2 {
		for range 4 {
			e.post(t, "/token", id, secret, password("alice", "wrong-password"))
		}
		for range 5 {
			e.post(t, "/token", id, "wrong-secret", cc)
		}
		if status, _, code := e.post(t, "/token", id, secret, password("alice", "alice-password")); status != http.StatusOK {
			t.Fatalf("round %d: the right password after 4 failures: %d %s", round, status, code)
		}
	}
}

// TestClientAuthenticationLockout: ten wrong secrets lock a consumer key at
// every client-authenticated endpoint; twenty failures lock the address.
func TestClientAuthenticationLockout(t *testing.T) {
	e := newLockoutEnv(t)
	id, secret := e.key.ConsumerKey, e.key.Secret
	cc := url.Values{"grant_type": {"client_credentials"}}
	for i := range 10 {
		if status, _, code := e.post(t, "/token", id, "wrong-secret", cc); status != http.StatusUnauthorized || code != oauth.ErrCodeInvalidClient {
			t.Fatalf("failure %d: %d %s", i, status, code)
		}
	}
	for _, path := range []string{"/token", "/revoke", "/introspect"} {
		form := url.Values{"token": {"whatever"}}
		if path == "/token" {
			form = cc
		}
		status, retry, code := e.post(t, path, id, secret, form)
		if status != http.StatusTooManyRequests || retry == "" || code != oauth.ErrCodeTemporarilyUnavailable {
			t.Errorf("%s with the right secret after 10 failures: %d Retry-After %q %s", path, status, retry, code)
		}
	}
	// Unknown consumer keys count against the address: 10 more reach 20.
	for i := range 10 {
		e.post(t, "/introspect", "unknown-key-"+string(rune('a'+i)), "s", url.Values{"token": {"t"}})
	}
	root := fixture.User(t, e.db, "carol", "carol-password")
	other, _ := fixture.App(t, e.db, root, "CarolApp")
	if status, _, _ := e.post(t, "/token", other.ConsumerKey, other.Secret, cc); status != http.StatusTooManyRequests {
		t.Errorf("address over its limit, another key: %d", status)
	}
	e.clock.Advance(15 * time.Minute)
	if status, _, _ := e.post(t, "/token", id, secret, cc); status != http.StatusOK {
		t.Errorf("after 15 minutes: %d", status)
	}
}

// TestLockedOutAddressIsRefusedFirst: once an address is locked, its
// requests to /token, /revoke and /introspect are refused before their
// bodies are read or parsed, so a body that would cost work (62 KB of
// scopes) or be refused for its form gets the lockout's 429 all the same.
func TestLockedOutAddressIsRefusedFirst(t *testing.T) {
	e := newLockoutEnv(t)
	for i := range 20 {
		e.post(t, "/introspect", "unknown-key-"+strconv.Itoa(i), "s", url.Values{"token": {"t"}})
	}
	id, secret := e.key.ConsumerKey, e.key.Secret
	for _, path := range []string{"/token", "/revoke", "/introspect"} {
		for _, body := range []string{"grant_type=client_credentials&scope=" + url.QueryEscape(manyScopes(8000)), "token=%zz&grant_type=%zz"} {
			resp, raw := sendForm(t, http.DefaultClient, e.url+path, body, map[string]string{"Authorization": basic(id, secret)})
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
				!strings.Contains(raw, oauth.ErrCodeTemporarilyUnavailable) {
				t.Errorf("%s from a locked-out address, %d-byte body: %d %.200s", path, len(body), resp.StatusCode, raw)
			}
		}
	}
}

// TestReplayedRefreshTokenIsAudited: a refresh token presented twice
// leaves a grant_replayed event naming the client.
func TestReplayedRefreshTokenIsAudited(t *testing.T) {
	e := newLockoutEnv(t)
	id, secret := e.key.ConsumerKey, e.key.Secret
	_, body := postToken(t, e.url+"/token", basic(id, secret), password("alice", "alice-password").Encode())
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}
	if status, _, _ := e.post(t, "/token", id, secret, refresh); status != http.StatusOK {
		t.Fatalf("refresh: %d", status)
	}
	if status, _, code := e.post(t, "/token", id, secret, refresh); status != http.StatusBadRequest || code != oauth.ErrCodeInvalidGrant {
		t.Fatalf("replay: %d %s", status, code)
	}
	events, err := e.db.AuditEvents(t.Context(), portal.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Event != portal.AuditGrantReplayed || events[0].Client != id || !strings.Contains(events[0].Detail, "refresh_token") {
		t.Errorf("audit: %+v", events)
	}
}
