package handlers_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/web"
)

func TestSignUpLogOutLogIn(t *testing.T) {
	env := newStore(t)
	b := env.browser()

	anon := b.get("/store")
	mustContain(t, anon.body, "PizzaShackAPI", "/pizzashack", "Log in", "Sign up", "/order/{orderId}")

	b.signUp("Alice", "correct horse")
	home := b.get("/store")
	mustContain(t, home.body, `data-testid="username">Alice<`, "Welcome, Alice", "Log out")

	// The session cookie: secure, script-proof, shared by every port of the host.
	resp, err := b.client.Get(env.srv.URL + "/store/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var raw string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "apistore_session=") {
			raw = c
		}
	}
	for _, want := range []string{"Path=/;", "HttpOnly", "Secure", "SameSite=Lax"} {
		if raw != "" && !strings.Contains(raw, want) {
			t.Errorf("session cookie %q lacks %s", raw, want)
		}
	}
	if strings.Contains(strings.ToLower(raw), "domain=") {
		t.Errorf("session cookie %q has a Domain", raw)
	}

	stolen := b.cookie("apistore_session")
	if p := b.submit("/store/logout", nil); p.status != http.StatusSeeOther {
		t.Fatalf("log out: %d", p.status)
	}
	mustNotContain(t, b.get("/store").body, "Log out", `data-testid="username"`)
	// A copy of the cookie taken before logging out is worth nothing after.
	replay := env.browser()
	u, _ := url.Parse(env.srv.URL)
	replay.client.Jar.SetCookies(u, []*http.Cookie{stolen})
	mustNotContain(t, replay.get("/store").body, `data-testid="username"`)

	if p := b.logIn("alice", "wrong password"); p.status != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d", p.status)
	} else {
		mustContain(t, p.body, "Invalid username or password.", `value="alice"`)
	}
	before, token := b.cookie("apistore_session").Value, b.token()
	p := b.logIn("ALICE", "correct horse")
	if p.status != http.StatusSeeOther || p.location != "/store" {
		t.Fatalf("log in: %d to %q", p.status, p.location)
	}
	mustContain(t, b.get("/store").body, `data-testid="username">Alice<`)
	if b.cookie("apistore_session").Value == before || b.token() == token {
		t.Error("logging in kept the session cookie or its form token")
	}
}

func TestSignUpValidation(t *testing.T) {
	env := newStore(t)
	env.browser().signUp("taken", "a long password")
	b := env.browser()
	good := url.Values{"username": {"bob"}, "password": {"secret-pw-1"}, "password_confirm": {"secret-pw-1"}, "email": {"bob@example.com"}}
	tests := []struct {
		name, field, value, message string
	}{
		{"short username", "username", "b", "A username has 2 to 64"},
		{"username with spaces", "username", "bob smith", "A username has 2 to 64"},
		{"long username", "username", strings.Repeat("b", 65), "A username has 2 to 64"},
		{"taken username, other case", "username", "TAKEN", "This username is taken"},
		{"short password", "password", "short", "A password has 8 to 256 characters"},
		{"passwords differ", "password_confirm", "secret-pw-2", "The passwords do not match."},
		{"no email", "email", "", "Fill this in."},
		{"bad email", "email", "bob-at-example", "Enter an email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range good {
				form[k] = v
			}
			form.Set(tt.field, tt.value)
			p := b.submit("/store/signup", form)
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", p.status)
			}
			mustContain(t, p.body, tt.message, `id="e-`)
			if tt.field != "username" {
				mustContain(t, p.body, `value="bob"`)
			}
			mustNotContain(t, p.body, "secret-pw-1")
		})
	}
	if p := b.get("/store"); strings.Contains(p.body, "Log out") {
		t.Error("a refused sign-up logged in")
	}
}

func TestSelfSignupOff(t *testing.T) {
	env := newStore(t, handlers.WithSelfSignup(false))
	b := env.browser()
	mustNotContain(t, b.get("/store").body, "Sign up")
	if p := b.get("/store/signup"); p.status != http.StatusNotFound {
		t.Errorf("GET sign-up: %d", p.status)
	} else {
		mustContain(t, p.body, "Sign-up is switched off")
	}
	p := b.submit("/store/signup", url.Values{"username": {"eve"}, "password": {"password1"},
		"password_confirm": {"password1"}, "email": {"eve@example.com"}})
	if p.status != http.StatusNotFound {
		t.Errorf("POST sign-up: %d", p.status)
	}
}

func TestForgedFormsAreRefused(t *testing.T) {
	env := newStore(t)
	victim := env.browser()
	victim.signUp("victim", "victim-password")
	attacker := env.browser()
	attackerToken := attacker.token()
	for name, token := range map[string]string{"no token": "", "wrong token": "x", "another session's token": attackerToken} {
		t.Run(name, func(t *testing.T) {
			form := url.Values{}
			if token != "" {
				form.Set("csrf_token", token)
			}
			p := victim.post("/store/logout", form)
			if p.status != http.StatusForbidden {
				t.Fatalf("status %d", p.status)
			}
			mustContain(t, p.body, "This form has expired")
		})
	}
	mustContain(t, victim.get("/store").body, "Log out")
}

func TestLoginLockout(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	env := newStore(t, handlers.WithClock(clock))
	env.browser().signUp("carol", "carol-password")
	b := env.browser()

	// An existing and a made-up user are locked alike, after 5 failures each.
	for _, user := range []string{"carol", "nobody"} {
		for range 5 {
			if p := b.logIn(user, "guess-guess"); p.status != http.StatusUnauthorized {
				t.Fatalf("%s: failure answered %d", user, p.status)
			}
		}
		p := b.logIn(user, "carol-password")
		if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "900" {
			t.Fatalf("%s: 6th attempt answered %d, Retry-After %q", user, p.status, p.header.Get("Retry-After"))
		}
		mustContain(t, p.body, "Too many failed log-ins. Wait 15 minutes")
	}

	mu.Lock()
	now = now.Add(15 * time.Minute)
	mu.Unlock()
	if p := b.logIn("carol", "carol-password"); p.status != http.StatusSeeOther {
		t.Fatalf("after the lockout: %d", p.status)
	}

	// One address trying many names is stopped too (20 failures).
	for i := range 20 {
		b.logIn("user"+strings.Repeat("x", i), "guess-guess")
	}
	if p := env.browser().logIn("carol", "carol-password"); p.status != http.StatusTooManyRequests {
		t.Errorf("address over its limit: %d", p.status)
	}
}

// TestConcurrentLoginGuessesAreCounted: a burst of concurrent wrong
// passwords for one username gets five checked, the rest refused.
func TestConcurrentLoginGuessesAreCounted(t *testing.T) {
	env := newStore(t)
	env.browser().signUp("erin", "erin-password")
	b := env.browser()
	token := b.token()
	statuses := make(chan int, 30)
	var wg sync.WaitGroup
	for range cap(statuses) {
		wg.Go(func() {
			statuses <- b.post("/store/login", url.Values{"csrf_token": {token}, "username": {"erin"}, "password": {"guess-guess"}}).status
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusUnauthorized] != 5 || counts[http.StatusTooManyRequests] != 25 {
		t.Errorf("30 concurrent guesses: %v; want 5 checked (401) and 25 refused (429)", counts)
	}
	if p := b.logIn("erin", "erin-password"); p.status != http.StatusTooManyRequests {
		t.Errorf("the right password after the burst: %d", p.status)
	}
}

func TestLoginReturnTarget(t *testing.T) {
	env := newStore(t)
	env.browser().signUp("dave", "dave-password")
	host := strings.TrimPrefix(env.srv.URL, "https://")
	hostname := strings.Split(host, ":")[0]
	tests := []struct{ target, want string }{
		{"/store/applications?x=1", "/store/applications?x=1"},
		{"https://" + hostname + ":8243/authorize?response_type=code&client_id=a", "https://" + hostname + ":8243/authorize?response_type=code&client_id=a"},
		{"http://" + hostname + ":8280/authorize", "http://" + hostname + ":8280/authorize"},
		{"https://evil.example/steal", "/store"},
		{"//evil.example/steal", "/store"},
		{"/\\evil.example", "/store"},
		{"javascript:alert(1)", "/store"},
		{"https://user@" + hostname + "/x", "/store"},
		{"ftp://" + hostname + "/x", "/store"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			b := env.browser()
			page := b.get("/store/login?return=" + url.QueryEscape(tt.target))
			if tt.want == "/store" {
				mustNotContain(t, page.body, `name="return"`)
			}
			form := url.Values{"username": {"dave"}, "password": {"dave-password"}, "return": {tt.target}}
			p := b.submit("/store/login", form)
			if p.status != http.StatusSeeOther || p.location != tt.want {
				t.Errorf("redirect %d to %q, want %q", p.status, p.location, tt.want)
			}
		})
	}
}

// TestSignUpKeepsReturn: someone sent to log in on the way to the consent
// page, who has no account yet, signs up and lands where they were going;
// a return to another site is dropped as at log-in.
func TestSignUpKeepsReturn(t *testing.T) {
	env := newStore(t)
	hostname := strings.Split(strings.TrimPrefix(env.srv.URL, "https://"), ":")[0]
	consent := "https://" + hostname + ":8243/authorize?response_type=code&client_id=a&scope=read"
	for _, tt := range []struct{ target, want string }{
		{consent, consent},
		{"https://evil.example/steal", "/store"},
	} {
		b := env.browser()
		login := b.get("/store/login?return=" + url.QueryEscape(tt.target))
		signupLink := "/store/signup?return=" + url.QueryEscape(tt.target)
		if tt.want == "/store" {
			signupLink = "/store/signup"
		}
		// Both the card's Sign up and the header's keep the way back.
		if n := strings.Count(login.body, `href="`+html.EscapeString(signupLink)+`"`); n != 2 {
			t.Errorf("%d Sign up links keep the return, want 2 (the header's and the card's)\n%s", n, login.body)
		}
		signup := b.get(signupLink)
		if tt.want != "/store" {
			mustContain(t, signup.body, `name="return" value="`+html.EscapeString(tt.target)+`"`)
			if n := strings.Count(signup.body, `href="/store/login?return=`+html.EscapeString(url.QueryEscape(tt.target))+`"`); n != 2 {
				t.Errorf("%d Log in links keep the return, want 2 (the header's and the card's)", n)
			}
		}
		name := "user" + strconv.Itoa(len(tt.target))
		p := b.submit("/store/signup", url.Values{"username": {name}, "password": {"password1"},
			"password_confirm": {"password1"}, "email": {name + "@example.com"}, "return": {tt.target}})
		if p.status != http.StatusSeeOther || p.location != tt.want {
			t.Errorf("sign-up on the way to %q: %d to %q, want %q", tt.target, p.status, p.location, tt.want)
		}
		// Signed in now: the sign-up page sends on to the same place.
		if p := b.get("/store/signup?return=" + url.QueryEscape(tt.target)); p.status != http.StatusSeeOther || p.location != tt.want {
			t.Errorf("sign-up page when logged in: %d to %q, want %q", p.status, p.location, tt.want)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	p := newStore(t).browser().get("/store/login")
	for name, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if got := p.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	d := fixture.DB(t)
	if err := d.SeedSample(context.Background()); err != nil {
		t.Fatal(err)
	}
	hashKey, blockKey, err := web.SessionKeys(context.Background(), d, dir)
	if err != nil {
		t.Fatal(err)
	}
	first := serveStore(t, d, handlers.WithSessionKeys(hashKey, blockKey))
	b := first.browser()
	b.signUp("erin", "erin-password")
	first.srv.Close()

	hashKey, blockKey, err = web.SessionKeys(context.Background(), d, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	second := serveStore(t, first.db, handlers.WithSessionKeys(hashKey, blockKey))
	again := second.browser()
	u, _ := url.Parse(second.srv.URL)
	again.client.Jar.SetCookies(u, []*http.Cookie{b.cookie("apistore_session")})
	mustContain(t, again.get("/store").body, `data-testid="username">erin<`)
}

func TestErrorPages(t *testing.T) {
	b := newStore(t).browser()
	p := b.get("/store/no-such-page")
	if p.status != http.StatusNotFound || p.header.Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Fatalf("status %d, %s", p.status, p.header.Get("Content-Type"))
	}
	mustContain(t, p.body, "Page not found", "Back to the APIs")
	big := url.Values{"username": {strings.Repeat("x", 70<<10)}}
	if p := b.submit("/store/login", big); p.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KiB form: %d", p.status)
	}
}

func TestSessionExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	env := newStore(t, handlers.WithClock(clock))
	b := env.browser()
	b.signUp("gina", "gina-password")
	mu.Lock()
	now = now.Add(12*time.Hour - time.Second)
	mu.Unlock()
	mustContain(t, b.get("/store").body, `data-testid="username">gina<`)
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	mustNotContain(t, b.get("/store").body, `data-testid="username"`)
}

// TestLogInForgiving: spaces around a username do not fail a log-in, and
// logging out from a page left open after logging out elsewhere just shows
// the store; a stale form of a logged-in session is still refused.
func TestLogInForgiving(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	b.signUp("erin", "erin-password")
	b.submit("/store/logout", nil)
	if p := b.logIn("  erin ", "erin-password"); p.status != http.StatusSeeOther {
		t.Fatalf("log in with spaces around the name: %d", p.status)
	}

	stale := b.token()
	if p := b.submit("/store/logout", nil); p.status != http.StatusSeeOther {
		t.Fatalf("log out: %d", p.status)
	}
	if p := b.post("/store/logout", url.Values{"csrf_token": {stale}}); p.status != http.StatusSeeOther || p.location != "/store" {
		t.Errorf("second log-out from a stale page: %d to %q, want 303 to /store", p.status, p.location)
	}

	b.logIn("erin", "erin-password")
	if p := b.post("/store/logout", url.Values{"csrf_token": {stale}}); p.status != http.StatusForbidden {
		t.Errorf("stale log-out form of a logged-in session: %d, want 403", p.status)
	}
	if b.username() != "erin" {
		t.Error("a stale log-out form logged the user out")
	}
}

// TestUnknownUsernamesAreMaskedInTheAuditTrail: a failed log-in's
// username is often a password typed in the wrong field. An unknown one is
// recorded masked (a keyed hash: the same name always shows the same, so
// repeated tries stay visible), in the failure and in the lockout it
// causes; a known one is recorded as the account spells it.
func TestUnknownUsernamesAreMaskedInTheAuditTrail(t *testing.T) {
	env := newStore(t)
	env.browser().signUp("carol", "carol-password")
	b := env.browser()
	const typed = "Tr0ub4dor&3-secret"
	for range 5 {
		b.logIn(typed, "guess-guess")
	}
	b.logIn("CAROL", "guess-guess")
	events, err := env.db.AuditEvents(t.Context(), portal.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var masks []string
	for _, e := range events {
		if strings.Contains(strings.ToLower(e.Username+e.Client+e.Detail), strings.ToLower(typed)) {
			t.Errorf("the typed username is in the trail: %+v", e)
		}
		if e.Event == portal.AuditLoginFailed && e.Username != "carol" {
			masks = append(masks, e.Username)
		}
	}
	if len(events) < 8 || events[0].Event != portal.AuditLoginFailed || events[0].Username != "carol" {
		t.Fatalf("latest events %+v, want carol's failure (as the account spells her name) first", events[:min(3, len(events))])
	}
	if events[1].Event != portal.AuditLockout || !strings.HasPrefix(events[1].Username, "(unknown user ") {
		t.Errorf("lockout of the unknown name: %+v", events[1])
	}
	if len(masks) != 5 || !strings.HasPrefix(masks[0], "(unknown user ") || len(slices.Compact(slices.Clone(masks))) != 1 {
		t.Errorf("the unknown name's failures are recorded as %q, want one mask five times", masks)
	}
}
