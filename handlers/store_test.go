package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/web"
)

// storeEnv is a store served over real HTTPS on a real database.
type storeEnv struct {
	t     *testing.T
	db    db.Store
	oauth *oauth.Server
	srv   *httptest.Server
}

// newStore starts the store on a fresh database with the sample API.
func newStore(t *testing.T, opts ...handlers.Option) *storeEnv {
	t.Helper()
	d := fixture.DB(t)
	if err := d.SeedSample(context.Background()); err != nil {
		t.Fatal(err)
	}
	return serveStore(t, d, opts...)
}

// serveStore starts a store on an open database.
func serveStore(t *testing.T, d db.Store, opts ...handlers.Option) *storeEnv {
	t.Helper()
	o := oauth.NewServer(d, oauth.Validity{}, nil)
	srv := httptest.NewTLSServer(web.New(web.Config{}, handlers.New(o, d, opts...)).Store())
	t.Cleanup(srv.Close)
	return &storeEnv{t: t, db: d, oauth: o, srv: srv}
}

// browser is one visitor: a cookie jar that does not follow redirects, so
// tests see them.
type browser struct {
	env    *storeEnv
	client *http.Client
}

func (e *storeEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client() // a copy: the server's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{env: e, client: &c}
}

// page is a response with its body read.
type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.env.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.env.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}
}

func (b *browser) get(path string) page {
	b.env.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.env.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form as it was, without adding a form token.
func (b *browser) post(path string, form url.Values) page {
	b.env.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.env.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)"`)

// token is the session's form token, read from a page as a browser would.
func (b *browser) token() string {
	b.env.t.Helper()
	m := csrfMeta.FindStringSubmatch(b.get("/store").body)
	if m == nil {
		b.env.t.Fatal("no form token on /store")
	}
	return m[1]
}

// submit posts a form with the session's form token, as the page's form would.
func (b *browser) submit(path string, form url.Values) page {
	b.env.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", b.token())
	return b.post(path, form)
}

// signUp makes an account through the sign-up form and stays logged in.
func (b *browser) signUp(username, password string) {
	b.env.t.Helper()
	p := b.submit("/store/signup", url.Values{"username": {username}, "password": {password},
		"password_confirm": {password}, "email": {username + "@example.com"}})
	if p.status != http.StatusSeeOther {
		b.env.t.Fatalf("sign up %s: status %d\n%s", username, p.status, p.body)
	}
}

func (b *browser) logIn(username, password string) page {
	b.env.t.Helper()
	return b.submit("/store/login", url.Values{"username": {username}, "password": {password}})
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.env.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// mustContain fails unless body has every want.
func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func mustNotContain(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("page has %q", w)
		}
	}
}

// addApplication adds an application through the form and returns its id.
func (b *browser) addApplication(name string) int64 {
	b.env.t.Helper()
	p := b.submit("/store/applications", url.Values{"name": {name}, "tier": {"Gold"},
		"callback_url": {"https://app.example.com/callback"}})
	if p.status != http.StatusSeeOther {
		b.env.t.Fatalf("add application %s: status %d\n%s", name, p.status, p.body)
	}
	u, err := b.env.db.UserAccount(context.Background(), b.username())
	if err != nil {
		b.env.t.Fatal(err)
	}
	apps, err := b.env.db.ApplicationsByOwner(context.Background(), u.ID)
	if err != nil {
		b.env.t.Fatal(err)
	}
	for _, a := range apps {
		if a.Name == name {
			return a.ID
		}
	}
	b.env.t.Fatalf("application %s not stored", name)
	return 0
}

var usernameShown = regexp.MustCompile(`data-testid="username">([^<]+)<`)

// username is the name the header shows.
func (b *browser) username() string {
	b.env.t.Helper()
	m := usernameShown.FindStringSubmatch(b.get("/store").body)
	if m == nil {
		b.env.t.Fatal("not logged in")
	}
	return m[1]
}
