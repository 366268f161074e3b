package gateway_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/web"
)

// storeBrowser is a logged-in visitor of the store that serves the gateway's
// database, as a user changing their account on the portal is.
type storeBrowser struct {
	t      testing.TB
	base   string
	client *http.Client
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)"`)

// storeBrowser starts the store on e's database and logs username in.
func (e *env) storeBrowser(username, password string) *storeBrowser {
	e.t.Helper()
	o := oauth.NewServer(e.db, oauth.Validity{}, e.clock.Now)
	srv := httptest.NewTLSServer(web.New(web.Config{}, handlers.New(o, e.db)).Store())
	e.t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := *srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	b := &storeBrowser{t: e.t, base: srv.URL, client: &c}
	if status := b.submit("/store/login", url.Values{"username": {username}, "password": {password}}); status != http.StatusSeeOther {
		e.t.Fatalf("log in %s: %d", username, status)
	}
	return b
}

// submit posts a form with the session's form token and returns the status.
func (b *storeBrowser) submit(path string, form url.Values) int {
	b.t.Helper()
	resp, err := b.client.Get(b.base + "/store")
	if err != nil {
		b.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfMeta.FindSubmatch(page)
	if m == nil {
		b.t.Fatal("no form token")
	}
	form.Set("csrf_token", string(m[1]))
	resp, err = b.client.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAccountChangesEndAccessAtOnce: what a user does to their account on
// the store, and an administrator to it, is refused by the gateway on the
// very next call, although the calls before filled its caches.
func TestAccountChangesEndAccessAtOnce(t *testing.T) {
	tests := []struct {
		name string
		act  func(e *env)
		// whether each token still works afterwards: alice's application
		// token, her password grant's, and bob's password grant's on her
		// application
		app, password, bobs bool
	}{
		{"account deleted at My account", func(e *env) {
			if status := e.storeBrowser("alice", "alice-password").submit("/store/account/delete",
				url.Values{"current_password": {"alice-password"}}); status != http.StatusSeeOther {
				e.t.Fatalf("delete: %d", status)
			}
		}, false, false, false},
		{"password changed at My account", func(e *env) {
			if status := e.storeBrowser("alice", "alice-password").submit("/store/account/password", url.Values{
				"current_password": {"alice-password"}, "password": {"a-new-password"}, "password_confirm": {"a-new-password"},
				"end_others": {"true"}}); status != http.StatusSeeOther {
				e.t.Fatalf("change password: %d", status)
			}
		}, true, false, true},
		{"user disabled on the Users page", func(e *env) {
			if status := e.storeBrowser("root", "root-password").submit("/store/admin/users/disable",
				url.Values{"username": {"alice"}}); status != http.StatusSeeOther {
				e.t.Fatalf("disable: %d", status)
			}
		}, false, false, false},
		{"user disabled by another process (apistore user disable)", func(e *env) {
			if err := e.otherProcess(func(d db.Store) error {
				_, _, err := d.DisableUser(e.ctx, "alice", time.Now())
				return err
			}); err != nil {
				e.t.Fatal(err)
			}
		}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, gateway.Config{})
			fixture.User(t, e.db, "root", "root-password", "admin") // alice is not the only admin
			fixture.User(t, e.db, "bob", "bob-password")
			tokens := []struct {
				name, token string
				works       bool
			}{
				{"alice's application token", e.token(e.alice.prodKey, e.alice.prodSecret, "read"), tt.app},
				{"alice's password grant", e.userToken(e.alice.prodKey, e.alice.prodSecret, "alice", "read"), tt.password},
				{"bob's password grant on alice's application", e.userToken(e.alice.prodKey, e.alice.prodSecret, "bob", "read"), tt.bobs},
			}
			for _, tok := range tokens {
				for range 2 {
					if r := e.call("GET", "/pizzashack/1.0.0/menu", tok.token, nil); r.status != 200 {
						t.Fatalf("%s before: %d %v", tok.name, r.status, r.body)
					}
				}
			}
			tt.act(e)
			for _, tok := range tokens {
				want := 401
				if tok.works {
					want = 200
				}
				if r := e.call("GET", "/pizzashack/1.0.0/menu", tok.token, nil); r.status != want {
					t.Errorf("%s, the next call: %d %v, want %d", tok.name, r.status, r.body, want)
				}
			}
			if !tt.app {
				if status := e.tokenStatus(e.alice.prodKey, e.alice.prodSecret); status != 401 {
					t.Errorf("the account's key at /token: %d", status)
				}
			}
		})
	}
}
