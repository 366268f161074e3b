package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/internal/ldaptest"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/userstore"
	"github.com/apistore/apistore/web"
)

// ldapEnv is the store and the API application over HTTPS with the CORP
// user store on a real slapd (internal/ldaptest): users log in as CORP/name,
// the groups developers and apiadmins give the roles subscriber and admin,
// and only entries without employeeType=disabled may log in.
type ldapEnv struct {
	db         db.Store
	ldap       *ldaptest.Server
	dir        *userstore.Directory
	store, api *httptest.Server
	key        fixture.Key
	oauth      *oauth.Server
}

func newLDAPEnv(t *testing.T, tweak ...func(*portal.UserStore)) *ldapEnv {
	t.Helper()
	e := &ldapEnv{ldap: ldaptest.Start(t)}
	e.db, e.key = fixture.Docs(t)
	ctx := context.Background()
	us := e.ldap.UserStore("(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))",
		map[string]string{"developers": "subscriber", "apiadmins": "admin"})
	for _, f := range tweak {
		f(us)
	}
	if err := e.db.CreateUserStore(ctx, us); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.dir, err = userstore.New(ctx, e.db, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.dir.Close)
	srv := oauth.NewServer(e.db, oauth.Validity{}, nil)
	srv.SetDirectory(e.dir)
	e.oauth = srv
	h := handlers.New(srv, e.db, handlers.WithDirectory(e.dir))
	w := web.New(web.Config{DataDir: t.TempDir()}, h)
	e.store, e.api = httptest.NewTLSServer(w.Store()), httptest.NewTLSServer(w.API())
	t.Cleanup(e.store.Close)
	t.Cleanup(e.api.Close)
	h.SetURLs(e.store.URL, e.api.URL)
	return e
}

// token asks /token for a password grant's tokens: the status and the
// answer's fields.
func (e *ldapEnv) token(t *testing.T, username, password string) (int, map[string]any) {
	t.Helper()
	return e.grant(t, e.key, url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}, "scope": {"read update"}})
}

// grant asks /token for a grant with a key's credentials: the status and
// the answer's fields.
func (e *ldapEnv) grant(t *testing.T, key fixture.Key, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, body := sendForm(t, e.api.Client(), e.api.URL+"/token", form.Encode(), map[string]string{"Authorization": keyBasic(key)})
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%s grant: %d %s", form.Get("grant_type"), resp.StatusCode, body)
	}
	return resp.StatusCode, got
}

// introspect asks /introspect about a token of e.key's application.
func (e *ldapEnv) introspect(t *testing.T, token string) oauth.Introspection {
	t.Helper()
	return e.introspectAs(t, e.key, token)
}

// introspectAs asks /introspect about a token with a key's credentials.
func (e *ldapEnv) introspectAs(t *testing.T, key fixture.Key, token string) oauth.Introspection {
	t.Helper()
	resp, body := sendForm(t, e.api.Client(), e.api.URL+"/introspect", "token="+token, map[string]string{"Authorization": keyBasic(key)})
	var got oauth.Introspection
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	return got
}

// logIn logs in on the store's page as a browser does.
func (e *ldapEnv) logIn(t *testing.T, username, password string) resp {
	t.Helper()
	ua := (&authzEnv{store: e.store, api: e.api}).userAgent(t)
	return ua.logIn(ua.get(e.store.URL+"/store/login"), username, password)
}

func (e *ldapEnv) roles(t *testing.T, username string) []string {
	t.Helper()
	u, err := e.db.UserAccount(context.Background(), username)
	if err != nil {
		t.Fatalf("%s: %v", username, err)
	}
	return u.Roles
}

// TestLDAPLogIn: the users of an LDAP user store log in on the store's page
// and get tokens by the password grant as CORP/name, with their LDAP
// password; their groups give their roles (and so their scopes); a wrong
// password, an unknown name and a name of the primary store under CORP are
// refused; the primary store's users are unaffected.
func TestLDAPLogIn(t *testing.T) {
	e := newLDAPEnv(t)
	status, tok := e.token(t, "CORP/alice", "alice-ldap-pw")
	if status != http.StatusOK || tok["scope"] != "read update" {
		t.Fatalf("password grant of CORP/alice: %d %v", status, tok)
	}
	if got := e.introspect(t, tok["access_token"].(string)); !got.Active || got.Username != "CORP/alice@carbon.super" {
		t.Errorf("introspection: %+v", got)
	}
	if got := e.roles(t, "CORP/alice"); !slices.Equal(got, []string{"admin", "subscriber"}) {
		t.Errorf("CORP/alice's roles %v, want admin and subscriber (apiadmins, developers)", got)
	}
	// bob is a developer only: update needs admin.
	if status, tok := e.token(t, "corp/bob", "bob-ldap-pw"); status != http.StatusOK || tok["scope"] != "read" {
		t.Errorf("password grant of corp/bob: %d %v", status, tok)
	}
	if got := e.roles(t, "CORP/bob"); !slices.Equal(got, []string{"subscriber"}) {
		t.Errorf("CORP/bob's roles %v", got)
	}
	// dave's posixGroup, testers, maps to no role.
	if status, _ := e.token(t, "CORP/dave", "dave-ldap-pw"); status != http.StatusOK {
		t.Errorf("password grant of CORP/dave: %d", status)
	}
	if got := e.roles(t, "CORP/dave"); len(got) != 0 {
		t.Errorf("CORP/dave's roles %v, want none", got)
	}
	for _, c := range []struct{ user, pw string }{
		{"CORP/alice", "wrong-password"}, {"CORP/alice", "alice-password"}, {"CORP/nobody", "alice-ldap-pw"},
		{"CORP/alice", ""}, {"alice", "alice-ldap-pw"}, {"CORP/", "x"}, {"CORP/*", "alice-ldap-pw"},
		{"CORP/alice)(uid=*", "alice-ldap-pw"},
	} {
		status, got := e.token(t, c.user, c.pw)
		if status != http.StatusBadRequest || (got["error"] != oauth.ErrCodeInvalidGrant && got["error"] != oauth.ErrCodeInvalidRequest) {
			t.Errorf("%q with %q: %d %v", c.user, c.pw, status, got)
		}
	}
	if status, _ := e.token(t, "alice", "alice-password"); status != http.StatusOK {
		t.Errorf("the primary store's alice: %d", status)
	}

	page := e.logIn(t, "CORP/bob", "bob-ldap-pw")
	if page.status != http.StatusOK || page.url.Path != "/store" || !strings.Contains(page.body, "CORP/bob") {
		t.Errorf("store log-in of CORP/bob: %d at %s", page.status, page.url)
	}
	page = e.logIn(t, "CORP/bob", "wrong-password")
	if page.status != http.StatusUnauthorized || !strings.Contains(page.body, "Invalid username or password.") {
		t.Errorf("store log-in with a wrong password: %d at %s", page.status, page.url)
	}
}

// TestLDAPDisabledOrRemovedUser: a user disabled in LDAP (the store's
// filter no longer matches the entry) or removed from it is refused at
// once at the log-in, and that refused log-in disables their account, so
// their tokens are refused on the next call. One who does not try is
// found by the sync (userstore.Directory.Sync, which the server runs every
// --userstore-sync). Enabled again in LDAP, the user logs in again; an
// administrator's disabling outlasts that.
func TestLDAPDisabledOrRemovedUser(t *testing.T) {
	e := newLDAPEnv(t)
	ctx := context.Background()
	tokens := map[string]string{}
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		status, tok := e.token(t, "CORP/"+name, name+"-ldap-pw")
		if status != http.StatusOK {
			t.Fatalf("%s: %d %v", name, status, tok)
		}
		tokens[name] = tok["access_token"].(string)
	}
	disable := func(name string) {
		e.ldap.Modify(t, "dn: uid="+name+",ou=people,dc=example,dc=org\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n")
	}

	disable("alice")
	if status, got := e.token(t, "CORP/alice", "alice-ldap-pw"); status != http.StatusBadRequest || got["error"] != oauth.ErrCodeInvalidGrant {
		t.Errorf("disabled in LDAP: %d %v", status, got)
	}
	if page := e.logIn(t, "CORP/alice", "alice-ldap-pw"); page.status != http.StatusUnauthorized {
		t.Errorf("store log-in disabled in LDAP: %d", page.status)
	}
	e.ldap.Delete(t, "uid=bob,ou=people,dc=example,dc=org")
	if status, _ := e.token(t, "CORP/bob", "bob-ldap-pw"); status != http.StatusBadRequest {
		t.Errorf("removed from LDAP: %d", status)
	}
	for name, want := range map[string]bool{"alice": false, "bob": false, "carol": true, "dave": true} {
		if got := e.introspect(t, tokens[name]); got.Active != want {
			t.Errorf("%s's token after the refused log-ins: active %v, want %v", name, got.Active, want)
		}
	}

	disable("carol") // and she does not try to log in
	n, err := e.dir.Sync(ctx)
	if err != nil || n != 1 {
		t.Errorf("Sync: %d disabled, %v; want 1 (carol)", n, err)
	}
	for name, want := range map[string]bool{"alice": false, "bob": false, "carol": false, "dave": true} {
		if got := e.introspect(t, tokens[name]); got.Active != want {
			t.Errorf("%s's token after the sync: active %v, want %v", name, got.Active, want)
		}
	}
	if n, err := e.dir.Sync(ctx); err != nil || n != 0 {
		t.Errorf("second Sync: %d, %v", n, err)
	}
	events, err := e.db.AuditEvents(ctx, portal.AuditQuery{Event: portal.AuditUserDisabled})
	var disabled []string
	for _, ev := range events {
		if ev.Remote == "user store CORP" {
			disabled = append(disabled, ev.Username)
		}
	}
	slices.Sort(disabled)
	if err != nil || !slices.Equal(disabled, []string{"CORP/alice", "CORP/bob", "CORP/carol"}) {
		t.Errorf("audited disablings: %v, %v", disabled, err)
	}

	e.ldap.Modify(t, "dn: uid=alice,ou=people,dc=example,dc=org\nchangetype: modify\ndelete: employeeType\n")
	if status, got := e.token(t, "CORP/alice", "alice-ldap-pw"); status != http.StatusOK {
		t.Errorf("enabled in LDAP again: %d %v", status, got)
	}
	if _, _, err := e.db.DisableUser(ctx, "CORP/dave", time.Now()); err != nil {
		t.Fatal(err)
	}
	if status, got := e.token(t, "CORP/dave", "dave-ldap-pw"); status != http.StatusBadRequest || got["error_description"] != "the account is disabled" {
		t.Errorf("disabled by an administrator: %d %v", status, got)
	}
}

// refresh asks /token for the refresh grant: the status and the answer.
func (e *ldapEnv) refresh(t *testing.T, refreshToken string) (int, map[string]any) {
	t.Helper()
	return e.grant(t, e.key, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

// TestLDAPRefreshAsksTheStore: the refresh grant asks an LDAP user's store
// about them, so a user disabled in LDAP or removed from it is refused at
// once (invalid_grant, their account then disabled and their tokens
// ended), not at the next sync; a store that cannot be reached gives
// server_error (503), as the password grant does, and ends nothing; the
// primary store's users refresh as before.
func TestLDAPRefreshAsksTheStore(t *testing.T) {
	e := newLDAPEnv(t)
	tokens := map[string]map[string]any{}
	for _, name := range []string{"CORP/alice", "CORP/bob", "CORP/carol"} {
		status, tok := e.token(t, name, strings.ToLower(strings.TrimPrefix(name, "CORP/"))+"-ldap-pw")
		if status != http.StatusOK || tok["refresh_token"] == nil {
			t.Fatalf("%s: %d %v", name, status, tok)
		}
		tokens[name] = tok
	}
	status, primary := e.token(t, "alice", "alice-password")
	if status != http.StatusOK {
		t.Fatalf("the primary store's alice: %d %v", status, primary)
	}
	if status, got := e.refresh(t, tokens["CORP/carol"]["refresh_token"].(string)); status != http.StatusOK {
		t.Fatalf("CORP/carol's refresh: %d %v", status, got)
	} else {
		tokens["CORP/carol"] = got
	}

	e.ldap.Modify(t, "dn: uid=alice,ou=people,dc=example,dc=org\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n")
	e.ldap.Delete(t, "uid=bob,ou=people,dc=example,dc=org")
	for _, name := range []string{"CORP/alice", "CORP/bob"} {
		if status, got := e.refresh(t, tokens[name]["refresh_token"].(string)); status != http.StatusBadRequest || got["error"] != oauth.ErrCodeInvalidGrant {
			t.Errorf("%s's refresh, gone from LDAP: %d %v", name, status, got)
		}
		if e.introspect(t, tokens[name]["access_token"].(string)).Active {
			t.Errorf("%s's access token still active after the refused refresh", name)
		}
		if u, err := e.db.UserAccount(context.Background(), name); err != nil || !u.Disabled {
			t.Errorf("%s's account after the refused refresh: %+v, %v", name, u, err)
		}
	}

	e.ldap.Stop(t)
	status, got := e.refresh(t, tokens["CORP/carol"]["refresh_token"].(string))
	if status != http.StatusServiceUnavailable || got["error"] != oauth.ErrCodeServerError ||
		!strings.Contains(got["error_description"].(string), "user store cannot be reached") {
		t.Errorf("CORP/carol's refresh with LDAP down: %d %v", status, got)
	}
	if !e.introspect(t, tokens["CORP/carol"]["access_token"].(string)).Active {
		t.Error("CORP/carol's token was ended because LDAP was down")
	}
	if status, got := e.refresh(t, primary["refresh_token"].(string)); status != http.StatusOK {
		t.Errorf("the primary store's alice's refresh with LDAP down: %d %v", status, got)
	}
}

// TestLDAPClientCredentialsAsksTheStore: the client_credentials grant of
// an application whose owner is an LDAP user asks the owner's store about
// them, as the refresh grant does, and so does the try-it console's token:
// an owner disabled in LDAP or removed from it gets the application no
// token (invalid_grant, the owner's account then disabled and the
// application's tokens ended), a store that cannot be reached gives
// server_error (503) and ends nothing, and the applications of the
// primary store's users are not asked about.
func TestLDAPClientCredentialsAsksTheStore(t *testing.T) {
	e := newLDAPEnv(t)
	ctx := context.Background()
	cc := url.Values{"grant_type": {oauth.GrantClientCredentials}}
	keys := map[string]fixture.Key{}
	tokens := map[string]string{}
	for _, owner := range []struct{ name, password string }{
		{"CORP/alice", "alice-ldap-pw"}, {"CORP/bob", "bob-ldap-pw"}, {"CORP/carol", "carol-ldap-pw"}, {"CORP/dave", "dave-ldap-pw"},
		{"alice", "alice-password"},
	} {
		if status, got := e.token(t, owner.name, owner.password); status != http.StatusOK { // the local account, for LDAP users
			t.Fatalf("%s's log-in: %d %v", owner.name, status, got)
		}
		u, err := e.db.UserAccount(ctx, owner.name)
		if err != nil {
			t.Fatal(err)
		}
		keys[owner.name], _ = fixture.App(t, e.db, u, "app of "+u.Username)
		status, got := e.grant(t, keys[owner.name], cc)
		if status != http.StatusOK {
			t.Fatalf("%s's application's token: %d %v", owner.name, status, got)
		}
		tokens[owner.name] = got["access_token"].(string)
	}

	console := func(name string) *oauth.Error {
		t.Helper()
		c, err := e.db.ClientByKey(ctx, keys[name].ConsumerKey)
		if err != nil {
			t.Fatalf("%s's key: %v", name, err)
		}
		_, oerr := e.oauth.IssueConsoleToken(ctx, c, nil)
		return oerr
	}

	for _, user := range []string{"alice", "dave"} {
		e.ldap.Modify(t, "dn: uid="+user+",ou=people,dc=example,dc=org\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n")
	}
	e.ldap.Delete(t, "uid=bob,ou=people,dc=example,dc=org")
	if oerr := console("CORP/dave"); oerr == nil || oerr.Code != oauth.ErrCodeInvalidGrant {
		t.Errorf("CORP/dave's console token, disabled in LDAP: %v", oerr)
	}
	for _, name := range []string{"CORP/alice", "CORP/bob"} {
		if status, got := e.grant(t, keys[name], cc); status != http.StatusBadRequest || got["error"] != oauth.ErrCodeInvalidGrant ||
			got["error_description"] != "the user's account is disabled or deleted" {
			t.Errorf("%s's application's token, the owner gone from LDAP: %d %v", name, status, got)
		}
		if info, err := e.db.AccessToken(ctx, oauth.HashOf(tokens[name])); !errors.Is(err, oauth.ErrNotFound) {
			t.Errorf("%s's application's token after the refused grant: %+v, %v; want it ended", name, info, err)
		}
		if u, err := e.db.UserAccount(ctx, name); err != nil || !u.Disabled {
			t.Errorf("%s's account after the refused grant: %+v, %v", name, u, err)
		}
	}
	if status, got := e.grant(t, keys["CORP/carol"], cc); status != http.StatusOK {
		t.Errorf("CORP/carol's application's token, still in LDAP: %d %v", status, got)
	} else {
		tokens["CORP/carol"] = got["access_token"].(string) // the one in use now
	}

	e.ldap.Stop(t)
	if oerr := console("CORP/carol"); oerr == nil || oerr.Code != oauth.ErrCodeServerError {
		t.Errorf("CORP/carol's console token with LDAP down: %v", oerr)
	}
	if oerr := console("alice"); oerr != nil {
		t.Errorf("the primary store's alice's console token with LDAP down: %v", oerr)
	}
	status, got := e.grant(t, keys["CORP/carol"], cc)
	if status != http.StatusServiceUnavailable || got["error"] != oauth.ErrCodeServerError ||
		!strings.Contains(got["error_description"].(string), "user store cannot be reached") {
		t.Errorf("CORP/carol's application's token with LDAP down: %d %v", status, got)
	}
	if !e.introspectAs(t, keys["CORP/carol"], tokens["CORP/carol"]).Active {
		t.Error("CORP/carol's application's token was ended because LDAP was down")
	}
	if status, got := e.grant(t, keys["alice"], cc); status != http.StatusOK {
		t.Errorf("the primary store's alice's application's token with LDAP down: %d %v", status, got)
	}
}

// TestLDAPUnavailable: with the LDAP server stopped mid-test, the password
// grant answers server_error (503) saying the user store cannot be
// reached, and the store's log-in page says so too; neither counts as a
// failed attempt (six in a row do not lock the username out), the
// primary store's users still log in, and the sync leaves every account
// and token as it was.
func TestLDAPUnavailable(t *testing.T) {
	e := newLDAPEnv(t)
	status, tok := e.token(t, "CORP/alice", "alice-ldap-pw")
	if status != http.StatusOK {
		t.Fatalf("before: %d %v", status, tok)
	}
	e.ldap.Stop(t)
	for i := range 6 {
		status, got := e.token(t, "CORP/alice", "alice-ldap-pw")
		if status != http.StatusServiceUnavailable || got["error"] != oauth.ErrCodeServerError ||
			!strings.Contains(got["error_description"].(string), "user store cannot be reached") {
			t.Fatalf("attempt %d with LDAP down: %d %v", i+1, status, got)
		}
	}
	page := e.logIn(t, "CORP/alice", "alice-ldap-pw")
	if page.status != http.StatusServiceUnavailable || !strings.Contains(page.body, "Your user store cannot be reached") {
		t.Errorf("store log-in with LDAP down: %d\n%s", page.status, page.body)
	}
	if status, _ := e.token(t, "alice", "alice-password"); status != http.StatusOK {
		t.Errorf("the primary store's alice with LDAP down: %d", status)
	}
	if n, err := e.dir.Sync(context.Background()); n != 0 || err == nil {
		t.Errorf("Sync with LDAP down: %d disabled, error %v", n, err)
	}
	if !e.introspect(t, tok["access_token"].(string)).Active {
		t.Error("a token was ended because LDAP was down")
	}
}

// TestLDAPLockout: the lockout rules apply to LDAP users: five wrong
// passwords lock CORP/carol out, her right password too.
func TestLDAPLockout(t *testing.T) {
	e := newLDAPEnv(t)
	for range 5 {
		if status, _ := e.token(t, "CORP/carol", "wrong-password"); status != http.StatusBadRequest {
			t.Fatalf("wrong password: %d", status)
		}
	}
	if status, got := e.token(t, "CORP/carol", "carol-ldap-pw"); status != http.StatusTooManyRequests {
		t.Errorf("after five failures: %d %v", status, got)
	}
	if page := e.logIn(t, "CORP/carol", "carol-ldap-pw"); page.status != http.StatusTooManyRequests {
		t.Errorf("store log-in after five failures: %d", page.status)
	}
}

// TestLDAPWrongBindPassword: a user store whose bind password LDAP refuses
// is a store that cannot be reached (503, nothing counted against the
// user), not a wrong user password, and the bind password appears in no
// log line.
func TestLDAPWrongBindPassword(t *testing.T) {
	const bindSecret = "wrong-bind-secret-never-logged"
	var logs syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	e := newLDAPEnv(t, func(us *portal.UserStore) { us.BindPassword = bindSecret })
	if status, got := e.token(t, "CORP/alice", "alice-ldap-pw"); status != http.StatusServiceUnavailable || got["error"] != oauth.ErrCodeServerError {
		t.Errorf("password grant: %d %v", status, got)
	}
	if page := e.logIn(t, "CORP/alice", "alice-ldap-pw"); page.status != http.StatusServiceUnavailable {
		t.Errorf("store log-in: %d", page.status)
	}
	if _, err := e.dir.Sync(context.Background()); err != nil {
		t.Logf("sync: %v", err) // no accounts yet: nothing to ask
	}
	out := logs.String()
	if !strings.Contains(out, "user store unavailable") || strings.Contains(out, bindSecret) {
		t.Errorf("logs:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer that handlers may write to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
