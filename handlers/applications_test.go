package handlers_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

func TestApplicationsNeedLogin(t *testing.T) {
	b := newStore(t).browser()
	for _, path := range []string{"/store/applications", "/store/applications/new", "/store/applications/1/edit"} {
		p := b.get(path)
		if p.status != http.StatusSeeOther || p.location != "/store/login?return="+url.QueryEscape(path) {
			t.Errorf("%s: %d to %q", path, p.status, p.location)
		}
	}
	if p := b.submit("/store/applications", url.Values{"name": {"x"}, "tier": {"Gold"}}); p.status != http.StatusSeeOther || p.location != "/store/login" {
		t.Errorf("anonymous POST: %d to %q", p.status, p.location)
	}
}

func TestApplicationAddEditDelete(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	b.signUp("alice", "alice-password")

	mustContain(t, b.get("/store/applications").body, "No applications yet — add one.", `href="/store/applications/new"`)
	mustContain(t, b.get("/store/applications/new").body, `<label for="f-name">Name</label>`, `<option value="Bronze">`)

	id := b.addApplication(`<script>alert("x")</script>`)
	list := b.get("/store/applications").body
	mustContain(t, list, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "Gold", "https://app.example.com/callback")
	mustNotContain(t, list, `<script>alert`)

	edit := fmt.Sprintf("/store/applications/%d", id)
	mustContain(t, b.get(edit+"/edit").body, `value="https://app.example.com/callback"`, `<option value="Gold" selected>`)
	p := b.submit(edit, url.Values{"name": {"Shop"}, "description": {"Orders pizza"}, "tier": {"Silver"}, "callback_url": {""}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", p.status, p.body)
	}
	list = b.get("/store/applications").body
	mustContain(t, list, "Shop", "Orders pizza", "Silver", "Application Shop saved.")
	mustNotContain(t, list, "app.example.com")

	mustContain(t, b.get(edit+"/delete").body, "Delete Shop?", "Delete application")
	if p := b.submit(edit+"/delete", nil); p.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", p.status)
	}
	mustContain(t, b.get("/store/applications").body, "No applications yet", "Application Shop deleted")
}

// TestApplicationWithJWTAccessTokens: the add form's box makes an
// application whose access tokens are JWTs; the edit form shows it and
// cannot change it.
func TestApplicationWithJWTAccessTokens(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	b.signUp("alice", "alice-password")
	mustContain(t, b.get("/store/applications/new").body, `<input type="checkbox" name="jwt_access_tokens" value="true">`)
	form := url.Values{"name": {"Signed"}, "tier": {"Gold"}, "jwt_access_tokens": {"true"}}
	if p := b.submit("/store/applications", form); p.status != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", p.status, p.body)
	}
	ctx := t.Context()
	alice, err := env.db.UserAccount(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := env.db.ApplicationsByOwner(ctx, alice.ID)
	if err != nil || len(apps) != 1 || !apps[0].JWTAccessTokens {
		t.Fatalf("applications %+v, %v; want Signed with JWT access tokens", apps, err)
	}
	edit := fmt.Sprintf("/store/applications/%d", apps[0].ID)
	mustContain(t, b.get(edit+"/edit").body, `<input type="checkbox" name="jwt_access_tokens" value="true" checked disabled>`)
	delete(form, "jwt_access_tokens")
	if p := b.submit(edit, form); p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", p.status, p.body)
	}
	if a, err := env.db.OwnedApplication(ctx, alice.ID, apps[0].ID); err != nil || !a.JWTAccessTokens {
		t.Errorf("after an edit: %+v, %v; want JWT access tokens still", a, err)
	}
}

func TestApplicationValidation(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	b.signUp("alice", "alice-password")
	b.addApplication("Taken")
	b.addApplication("Pizza 👩‍💻 Ünïcode \u05e9\u05dc\u05d5\u05dd") // emoji with a joiner, accents, Hebrew
	id := b.addApplication("Other")
	tests := []struct {
		name, field, value, message string
	}{
		{"no name", "name", "  ", "Fill this in."},
		{"long name", "name", strings.Repeat("n", 101), "Use at most 100 characters."},
		{"name with a line break", "name", "Shop\nSecond line", "Use visible characters only"},
		{"name with a NUL", "name", "Shop\x00", "Use visible characters only"},
		{"name with a text-direction override", "name", "Shop \u202eelgooG", "Use visible characters only"},
		{"duplicate name, other case", "name", "TAKEN", "You already have an application with this name."},
		{"long description", "description", strings.Repeat("d", 1001), "Use at most 1000 characters."},
		{"description with a NUL", "description", "kept\x00text", "Use text only"},
		{"relative callback", "callback_url", "/callback", "The callback URL must be an absolute URL"},
		{"http callback off loopback", "callback_url", "http://app.example.com/cb", "An http callback URL must be on localhost"},
		{"callback with fragment", "callback_url", "https://app.example.com/cb#x", "must not have a fragment"},
		{"ftp callback", "callback_url", "ftp://app.example.com/cb", "must use https"},
		{"long callback", "callback_url", "https://app.example.com/" + strings.Repeat("c", 2000), "The callback URL must be at most 2000 characters."},
		{"unknown tier", "tier", "Platinum", "Choose one of: Unlimited, Gold, Silver, Bronze."},
	}
	for _, path := range []string{"/store/applications", fmt.Sprintf("/store/applications/%d", id)} {
		for _, tt := range tests {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				form := url.Values{"name": {"Fresh"}, "description": {"kept text"}, "tier": {"Bronze"}, "callback_url": {"http://127.0.0.1:8000/cb"}}
				form.Set(tt.field, tt.value)
				p := b.submit(path, form)
				if p.status != http.StatusUnprocessableEntity {
					t.Fatalf("status %d", p.status)
				}
				mustContain(t, p.body, tt.message)
				if tt.field != "description" {
					mustContain(t, p.body, "kept text")
				}
			})
		}
	}
	list := b.get("/store/applications").body
	mustNotContain(t, list, "Fresh")
	mustContain(t, list, "Other")
}

func TestApplicationsOfOthersAre404(t *testing.T) {
	env := newStore(t)
	alice := env.browser()
	alice.signUp("alice", "alice-password")
	id := alice.addApplication("AliceApp")
	bob := env.browser()
	bob.signUp("bob", "bob-password")

	base := fmt.Sprintf("/store/applications/%d", id)
	for _, path := range []string{base + "/edit", base + "/delete", "/store/applications/999/edit", "/store/applications/x/edit"} {
		if p := bob.get(path); p.status != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, p.status)
		}
	}
	if p := bob.submit(base, url.Values{"name": {"Stolen"}, "tier": {"Gold"}}); p.status != http.StatusNotFound {
		t.Errorf("POST edit: %d", p.status)
	}
	if p := bob.submit(base+"/delete", nil); p.status != http.StatusNotFound {
		t.Errorf("POST delete: %d", p.status)
	}
	mustNotContain(t, bob.get("/store/applications").body, "AliceApp")
	mustContain(t, alice.get("/store/applications").body, "AliceApp")
}

func TestDeletingAnApplicationEndsItsTokens(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	b.signUp("alice", "alice-password")
	id := b.addApplication("Doomed")
	ctx := context.Background()
	key, secret := productionKey(t, env, id)
	client, err := env.db.ClientByKey(ctx, key.ConsumerKey)
	if err != nil {
		t.Fatal(err)
	}
	tok, oerr := env.oauth.IssueApplicationToken(ctx, client)
	if oerr != nil {
		t.Fatal(oerr)
	}
	if _, err := env.oauth.Validate(ctx, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	gen := fixture.Generation(t, env.db)

	if p := b.submit(fmt.Sprintf("/store/applications/%d/delete", id), nil); p.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", p.status)
	}
	if _, err := env.oauth.Validate(ctx, tok.AccessToken); !errors.Is(err, oauth.ErrInvalidToken) {
		t.Errorf("token after delete: %v", err)
	}
	if _, oerr := env.oauth.AuthenticateClient(ctx, key.ConsumerKey, secret); oerr == nil {
		t.Error("the deleted application's key still authenticates")
	}
	if fixture.Generation(t, env.db) == gen {
		t.Error("deleting an application did not change the access generation")
	}
}

// A double-clicked Delete, or a Delete and a Save from two tabs: the later
// request finds the application when it checks the owner and gone when it
// writes. It gets the 404 page, not a server error.
func TestApplicationDeletedMeanwhileIs404(t *testing.T) {
	if fixture.Postgres() {
		t.Skip("the race is staged with SQLite's write lock")
	}
	d := fixture.DB(t)
	path := d.Location()
	env := serveStore(t, d)
	b := env.browser()
	b.signUp("alice", "alice-password")
	id := b.addApplication("Twice")
	tok := b.token()

	// Another connection takes the write lock and deletes the application,
	// uncommitted: the requests still see it, then wait to write.
	ctx := context.Background()
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM applications WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}

	paths := []string{fmt.Sprintf("/store/applications/%d/delete", id), fmt.Sprintf("/store/applications/%d", id)}
	statuses := make([]int, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"csrf_token": {tok}, "name": {"Renamed"}, "tier": {"Gold"}}
			req, _ := http.NewRequest(http.MethodPost, env.srv.URL+p, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := b.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	time.Sleep(300 * time.Millisecond) // the requests reach their writes
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, status := range statuses {
		if status != http.StatusNotFound {
			t.Errorf("POST %s: status %d, want 404", paths[i], status)
		}
	}
}

// TestApplicationRequiresDPoP: the application form's Require DPoP box
// sets and clears the setting, which /token reads through the key (RFC
// 9449: tokens only with a proof).
func TestApplicationRequiresDPoP(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	b.signUp("alice", "alice-password")
	key, _ := productionKey(t, env, b.addApplication("Bound"))
	required := func() bool {
		t.Helper()
		c, err := env.db.ClientByKey(context.Background(), key.ConsumerKey)
		if err != nil {
			t.Fatal(err)
		}
		return c.DPoPRequired
	}
	edit := fmt.Sprintf("/store/applications/%d", key.AppID)
	mustContain(t, b.get(edit+"/edit").body, `name="dpop_required"`, "Require DPoP")
	mustNotContain(t, b.get(edit+"/edit").body, `name="dpop_required" value="true" checked`)
	for _, want := range []bool{true, false} {
		form := url.Values{"name": {"Bound"}, "tier": {"Gold"}}
		if want {
			form.Set("dpop_required", "true")
		}
		if p := b.submit(edit, form); p.status != http.StatusSeeOther {
			t.Fatalf("save with DPoP %v: %d\n%s", want, p.status, p.body)
		}
		if got := required(); got != want {
			t.Errorf("saved with the box %v: DPoP required %v", want, got)
		}
		if body := b.get(edit + "/edit").body; strings.Contains(body, `name="dpop_required" value="true" checked`) != want {
			t.Errorf("the edit form's box after saving %v is not so", want)
		}
	}
}

// productionKey adds a production key to the application id, as the
// store's Generate does, and returns it with its secret.
func productionKey(t *testing.T, env *storeEnv, id int64) (*oauth.Client, string) {
	t.Helper()
	secret := oauth.NewSecret()
	key := &oauth.Client{AppID: id, KeyType: oauth.Production, ConsumerKey: oauth.NewConsumerKey(),
		SecretHash: oauth.HashOf(secret), GrantTypes: oauth.DefaultGrantTypes}
	if err := env.db.CreateKey(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	return key, secret
}
