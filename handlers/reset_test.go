package handlers_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/internal/smtptest"
	"github.com/apistore/apistore/mailer"
	"github.com/apistore/apistore/portal"
)

// mailWait is how long a test waits for a message: sending is asynchronous
// and the machine may be busy.
const mailWait = 30 * time.Second

// newMailingStore is newStore with mail sent to an SMTP server of the test.
func newMailingStore(t *testing.T, opts ...handlers.Option) (*storeEnv, *smtptest.Server) {
	t.Helper()
	srv := smtptest.Start(t)
	m, err := mailer.New(mailer.Config{Server: srv.Addr, TLS: mailer.NoTLS, From: "apistore <noreply@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	return newStore(t, append(opts, handlers.WithMailer(m))...), srv
}

var resetLinkInMail = regexp.MustCompile(`https://\S+/store/password/reset\?token=[A-Za-z0-9_-]{43}`)

// resetLink is the link in a reset mail, as the path a browser opens.
func resetLink(t *testing.T, env *storeEnv, m smtptest.Message) string {
	t.Helper()
	link := resetLinkInMail.FindString(m.Body)
	if link == "" {
		t.Fatalf("no reset link in %q", m.Body)
	}
	if !strings.HasPrefix(link, env.srv.URL+"/") {
		t.Errorf("the link %s is not on the store's URL %s", link, env.srv.URL)
	}
	return strings.TrimPrefix(link, env.srv.URL)
}

// askReset asks for a reset link on the Forgot your password? page.
func (b *browser) askReset(name string) page {
	b.env.t.Helper()
	return b.submit("/store/password/forgot", url.Values{"name": {name}})
}

var hiddenToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

func TestPasswordResetByEmail(t *testing.T) {
	env, smtp := newMailingStore(t)
	laptop := env.browser()
	laptop.signUp("alice", "alice-password")
	phone := env.browser()
	phone.logIn("alice", "alice-password")
	toks := env.tokensOf(t, "alice", "alice-password")
	visitor := env.browser()

	mustContain(t, visitor.get("/store/login").body, `href="/store/password/forgot">Forgot your password?<`)
	mustContain(t, visitor.get("/store/password/forgot").body, "Username or email", "Email me a link")
	if p := visitor.post("/store/password/forgot", url.Values{"name": {"alice"}}); p.status != http.StatusForbidden {
		t.Errorf("forged form: %d", p.status)
	}
	p := visitor.askReset("ALICE")
	if p.status != http.StatusOK {
		t.Fatalf("ask: %d", p.status)
	}
	mustContain(t, p.body, "If an account matches <strong>ALICE</strong>", "within 30 minutes")

	m := smtp.Next(t, mailWait)
	if len(m.To) != 1 || m.To[0] != "alice@example.com" || m.Subject != "Reset your apistore password" {
		t.Fatalf("mail to %v: %q", m.To, m.Subject)
	}
	mustContain(t, m.Body, "Hello alice,", "within 30 minutes", "from the address 127.0.0.1")
	link := resetLink(t, env, m)

	p = visitor.get(link)
	if p.status != http.StatusOK {
		t.Fatalf("open the link: %d", p.status)
	}
	mustContain(t, p.body, "Choose a new password", `data-testid="reset-username">alice<`)
	if p.header.Get("Cache-Control") != "no-store" || p.header.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("the link's page may be cached or leak its address: %v", p.header)
	}
	token := hiddenToken.FindStringSubmatch(p.body)[1]
	form := func(pw, confirm string) url.Values {
		return url.Values{"token": {token}, "password": {pw}, "password_confirm": {confirm}}
	}
	if p := visitor.post("/store/password/reset", form("reset-password", "reset-password")); p.status != http.StatusForbidden {
		t.Errorf("forged form: %d", p.status)
	}
	p = visitor.submit("/store/password/reset", form("reset-password", "reset-passwort"))
	if p.status != http.StatusUnprocessableEntity {
		t.Errorf("passwords differ: %d", p.status)
	}
	mustContain(t, p.body, "The passwords do not match.")
	mustNotContain(t, p.body, "reset-passwor")

	p = visitor.submit("/store/password/reset", form("reset-password", "reset-password"))
	if p.status != http.StatusSeeOther || p.location != "/store/login" {
		t.Fatalf("reset: %d to %q\n%s", p.status, p.location, p.body)
	}
	mustContain(t, visitor.get("/store/login").body, "Your password is changed")
	if laptop.loggedIn() || phone.loggedIn() {
		t.Error("a session of the account survived the reset")
	}
	if env.valid(t, toks.password.AccessToken) || !env.valid(t, toks.app.AccessToken) {
		t.Error("the password grant's token lives on, or the application's ended")
	}
	if p := env.browser().logIn("alice", "alice-password"); p.status != http.StatusUnauthorized {
		t.Errorf("the old password: %d", p.status)
	}
	if p := env.browser().logIn("alice", "reset-password"); p.status != http.StatusSeeOther {
		t.Errorf("the new password: %d", p.status)
	}
	// The link works once.
	if p := visitor.get(link); p.status != http.StatusNotFound {
		t.Errorf("the link again: %d", p.status)
	} else {
		mustContain(t, p.body, "This link does not work")
	}
	if p := visitor.submit("/store/password/reset", form("third-password", "third-password")); p.status != http.StatusNotFound {
		t.Errorf("the form again: %d", p.status)
	}

	notice := smtp.Next(t, mailWait)
	if notice.To[0] != "alice@example.com" || notice.Subject != "Your apistore password was changed" {
		t.Errorf("notice to %v: %q", notice.To, notice.Subject)
	}
	mustContain(t, notice.Body, "with a reset link")
	mustNotContain(t, notice.Body, token)

	if got := auditEvents(t, env, portal.AuditPasswordResetAsked); len(got) != 1 || got[0].Username != "alice" ||
		got[0].Detail != "link mailed to alice@example.com, valid 30 minutes" || got[0].Remote != "127.0.0.1" {
		t.Errorf("audit of the request: %+v", got)
	}
	if got := auditEvents(t, env, portal.AuditPasswordReset); len(got) != 1 || got[0].Username != "alice" {
		t.Errorf("audit of the reset: %+v", got)
	}
	for _, e := range auditEvents(t, env, portal.AuditPasswordResetAsked) {
		if strings.Contains(e.Detail, token) {
			t.Error("the token is in the audit trail")
		}
	}
}

func TestPasswordResetAnswersAlike(t *testing.T) {
	env, smtp := newMailingStore(t)
	env.browser().signUp("bob", "bob-password")
	fixture.User(t, env.db, "noemail", "noemail-password") // made by the command line, without --email
	b := env.browser()

	answer := func(name string) string {
		p := b.askReset(name)
		if p.status != http.StatusOK {
			t.Fatalf("ask for %q: %d", name, p.status)
		}
		return strings.ReplaceAll(p.body, name, "NAME")
	}
	known := answer("bob")
	if m := smtp.Next(t, mailWait); m.To[0] != "bob@example.com" {
		t.Fatalf("mail to %v", m.To)
	}
	for _, name := range []string{"nobody", "nobody@example.com", "noemail"} {
		if got := answer(name); got != known {
			t.Errorf("the answer for %s differs from a known account's", name)
		}
	}
	// By email address, in any case. The outbox works in order, so the
	// next message proves none was sent for the names before.
	answer("BOB@example.com")
	if m := smtp.Next(t, mailWait); m.To[0] != "bob@example.com" || !strings.Contains(m.Body, "Hello bob,") {
		t.Fatalf("mail to %v: %q", m.To, m.Body)
	}
	details := map[string]string{}
	for _, e := range auditEvents(t, env, portal.AuditPasswordResetAsked) {
		details[e.Username] += e.Detail + ";"
	}
	if len(details) != 4 || details["noemail"] != "the account has no email address; nothing sent;" ||
		!strings.Contains(details["bob"], "link mailed to bob@example.com") {
		t.Errorf("audit: %v", details)
	}
	for name, detail := range details {
		if strings.HasPrefix(name, "(unknown user ") && detail != "no account matches; nothing sent;" {
			t.Errorf("%s: %s", name, detail)
		}
		if strings.Contains(name, "nobody") {
			t.Errorf("a typed name that matches no account is in the audit trail in clear: %s", name)
		}
	}
}

func TestPasswordResetLimits(t *testing.T) {
	env, smtp := newMailingStore(t)
	env.browser().signUp("carol", "carol-password")
	env.browser().signUp("dave", "dave-password")
	b := env.browser()
	// An account gets three links within 15 minutes; a fourth is not sent.
	for range 4 {
		b.askReset("carol")
	}
	b.askReset("dave")
	for i := range 3 {
		if m := smtp.Next(t, mailWait); m.To[0] != "carol@example.com" {
			t.Fatalf("mail %d to %v", i+1, m.To)
		}
	}
	if m := smtp.Next(t, mailWait); m.To[0] != "dave@example.com" {
		t.Errorf("the fourth link for carol was sent")
	}
	var notSent int
	for _, e := range auditEvents(t, env, portal.AuditPasswordResetAsked) {
		if strings.HasPrefix(e.Detail, "not sent: 3 links were mailed within 15 minutes") {
			notSent++
		}
	}
	if notSent != 1 {
		t.Errorf("%d refusals audited", notSent)
	}
	// An address may ask ten times within 15 minutes.
	for i := 5; i < 10; i++ {
		if p := b.askReset("nobody"); p.status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, p.status)
		}
	}
	p := b.askReset("dave")
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Fatalf("request 11: %d", p.status)
	}
	mustContain(t, p.body, "Too many password resets asked for from your address.")
	lockouts := auditEvents(t, env, portal.AuditLockout)
	if len(lockouts) != 1 || !strings.Contains(lockouts[0].Detail, "password reset requests refused") {
		t.Errorf("audit: %+v", lockouts)
	}
}

func TestResetLinkExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	env, smtp := newMailingStore(t, handlers.WithClock(clock), handlers.WithPasswordResetValidity(20*time.Minute))
	env.browser().signUp("alice", "alice-password")
	b := env.browser()
	b.askReset("alice")
	m := smtp.Next(t, mailWait)
	mustContain(t, m.Body, "within 20 minutes")
	link := resetLink(t, env, m)
	token := hiddenToken.FindStringSubmatch(b.get(link).body)[1]
	mu.Lock()
	now = now.Add(20 * time.Minute)
	mu.Unlock()
	if p := b.get(link); p.status != http.StatusNotFound {
		t.Errorf("an expired link: %d", p.status)
	}
	p := b.submit("/store/password/reset", url.Values{"token": {token}, "password": {"late-password"}, "password_confirm": {"late-password"}})
	if p.status != http.StatusNotFound || !env.passwordIs(t, "alice", "alice-password") {
		t.Errorf("an expired link's form: %d", p.status)
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 43), "../../etc"} {
		if p := b.get("/store/password/reset?token=" + url.QueryEscape(bad)); p.status != http.StatusNotFound {
			t.Errorf("token %q: %d", bad, p.status)
		}
	}
}

func TestAResetForgivesFailedLogIns(t *testing.T) {
	env, smtp := newMailingStore(t)
	env.browser().signUp("alice", "alice-password")
	guesser := env.browser()
	for range 5 {
		guesser.logIn("alice", "guess-guess")
	}
	if p := env.browser().logIn("alice", "alice-password"); p.status != http.StatusTooManyRequests {
		t.Fatalf("locked out: %d", p.status)
	}
	b := env.browser()
	b.askReset("alice")
	link := resetLink(t, env, smtp.Next(t, mailWait))
	token := hiddenToken.FindStringSubmatch(b.get(link).body)[1]
	b.submit("/store/password/reset", url.Values{"token": {token}, "password": {"fresh-password"}, "password_confirm": {"fresh-password"}})
	if p := b.logIn("alice", "fresh-password"); p.status != http.StatusSeeOther {
		t.Errorf("log in after the reset: %d", p.status)
	}
}

func TestForgotPasswordWithoutMail(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	p := b.get("/store/password/forgot")
	mustContain(t, p.body, "This server sends no email", "apistore user reset-password --username NAME")
	mustNotContain(t, p.body, "Email me a link")
	if p := b.askReset("alice"); p.status != http.StatusNotFound {
		t.Errorf("ask: %d", p.status)
	}
}

func TestAccountChangesAreMailed(t *testing.T) {
	env, smtp := newMailingStore(t)
	b := env.browser()
	b.signUp("alice", "alice-password")
	b.submit("/store/account/email", url.Values{"email": {"alice@new.example"}, "current_password": {"alice-password"}})
	m := smtp.Next(t, mailWait)
	if m.To[0] != "alice@example.com" || m.Subject != "Your apistore email address was changed" {
		t.Errorf("mail to %v: %q", m.To, m.Subject)
	}
	mustContain(t, m.Body, "from alice@example.com to alice@new.example")
	b.submit("/store/account/password", url.Values{"current_password": {"alice-password"}, "password": {"other-password"},
		"password_confirm": {"other-password"}})
	m = smtp.Next(t, mailWait)
	if m.To[0] != "alice@new.example" || m.Subject != "Your apistore password was changed" {
		t.Errorf("mail to %v: %q", m.To, m.Subject)
	}
	mustContain(t, m.Body, "at My account")
	mustNotContain(t, m.Body, "other-password")
}

// TestTenantPasswordReset: at a tenant's store a bare name is the tenant's
// user's, as at its log-in: alice at /t/acme.com/store is alice@acme.com,
// not the super tenant's alice.
func TestTenantPasswordReset(t *testing.T) {
	env, smtp := newMailingStore(t)
	env.browser().signUp("alice", "alice-password")
	fixture.Tenant(t, env.db, "acme.com")
	if p := env.browser().submit("/t/acme.com/store/signup", url.Values{"username": {"alice"}, "password": {"acme-alice-password"},
		"password_confirm": {"acme-alice-password"}, "email": {"acme-alice@example.com"}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign-up at acme.com's store: %d", p.status)
	}
	b := env.browser()
	for _, c := range []struct{ store, to, hello string }{
		{"/t/acme.com/store", "acme-alice@example.com", "Hello alice@acme.com,"},
		{"/store", "alice@example.com", "Hello alice,"},
	} {
		if p := b.submit(c.store+"/password/forgot", url.Values{"name": {"alice"}}); p.status != http.StatusOK {
			t.Fatalf("ask at %s: %d", c.store, p.status)
		}
		m := smtp.Next(t, mailWait)
		if len(m.To) != 1 || m.To[0] != c.to || !strings.Contains(m.Body, c.hello) {
			t.Errorf("alice at %s: mail to %v: %q", c.store, m.To, m.Body)
		}
		// The link opens the user's own store, and the reset ends at its
		// log-in page.
		link := resetLink(t, env, m)
		if !strings.HasPrefix(link, c.store+"/password/reset?token=") {
			t.Fatalf("alice at %s: link %s", c.store, link)
		}
		p := b.get(link)
		if p.status != http.StatusOK {
			t.Fatalf("alice at %s: open the link: %d", c.store, p.status)
		}
		token := hiddenToken.FindStringSubmatch(p.body)[1]
		p = b.submit(c.store+"/password/reset", url.Values{"token": {token}, "password": {"new-password"}, "password_confirm": {"new-password"}})
		if p.status != http.StatusSeeOther || p.location != c.store+"/login" {
			t.Errorf("alice at %s: reset: %d to %q", c.store, p.status, p.location)
		}
		if m := smtp.Next(t, mailWait); !strings.Contains(m.Body, "/store was changed") ||
			!strings.Contains(m.Body, c.store+"/password/forgot") {
			t.Errorf("alice at %s: the change mailed: %q", c.store, m.Body)
		}
	}
	if p := env.browser().submit("/t/acme.com/store/login", url.Values{"username": {"alice"}, "password": {"new-password"}}); p.status != http.StatusSeeOther {
		t.Errorf("acme.com's alice with her new password: %d", p.status)
	}
}
