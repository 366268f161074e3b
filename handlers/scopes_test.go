package handlers_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

func TestScopesPageIsForAdminsOnly(t *testing.T) {
	env := newStore(t)
	root := env.admin()
	alice := env.browser()
	alice.signUp("alice", "alice-password")

	mustContain(t, root.get("/store").body, `href="/store/admin/scopes">Scopes<`)
	mustNotContain(t, alice.get("/store").body, `href="/store/admin/scopes"`)
	if p := alice.get("/store/admin/scopes"); p.status != http.StatusForbidden {
		t.Errorf("GET as a subscriber: %d", p.status)
	}
	if p := alice.submit("/store/admin/scopes", url.Values{"name": {"orders:write"}}); p.status != http.StatusForbidden {
		t.Errorf("POST as a subscriber: %d", p.status)
	}
	if p := root.post("/store/admin/scopes", url.Values{"name": {"orders:write"}}); p.status != http.StatusForbidden {
		t.Errorf("POST without the form token: %d", p.status)
	}
	if scopes, err := env.db.ScopesByName(context.Background(), portal.SuperTenant, []string{"orders:write"}); err != nil || len(scopes) != 0 {
		t.Errorf("scopes after the refused posts: %v, %v", scopes, err)
	}
}

// TestScopesPage: an administrator registers a scope for some roles, which
// the password grant then gives only to users holding one, changes it to
// any user, and is shown what is wrong with a bad form; every change is
// audited, and a tenant's scopes are its own.
func TestScopesPage(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	root := env.admin()
	if p := root.get("/store/admin/scopes"); p.status != http.StatusOK || !strings.Contains(rowOf(p.body, "scope-read"), "any user") {
		t.Fatalf("Scopes: %d, the seeded read %q", p.status, rowOf(p.body, "scope-read"))
	}

	for _, bad := range []struct {
		form  url.Values
		field string
		want  string
	}{
		{url.Values{"name": {""}}, "name", "scope name is 1 to 100 visible ASCII characters"},
		{url.Values{"name": {"two words"}}, "name", "scope name is 1 to 100 visible ASCII characters"},
		{url.Values{"name": {oauth.DefaultScope}}, "name", `and not "default"`},
		{url.Values{"name": {"orders:write"}, "roles": {"admin, no way!"}}, "roles", `"way!" is not a role name`},
		{url.Values{"name": {"orders:write"}, "description": {"a\x00b"}}, "description", "no control characters"},
	} {
		p := root.submit("/store/admin/scopes", bad.form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(p.body), bad.want) ||
			!strings.Contains(p.body, `name="`+bad.field+`"`) || !strings.Contains(p.body, `value="`+html.EscapeString(bad.form.Get("name"))+`"`) {
			t.Errorf("%v: %d, want 422 saying %q with the form kept", bad.form, p.status, bad.want)
		}
	}
	if scopes, err := env.db.ScopesByName(ctx, portal.SuperTenant, []string{"orders:write"}); err != nil || len(scopes) != 0 {
		t.Fatalf("scopes after the refused forms: %v, %v", scopes, err)
	}

	p := root.submit("/store/admin/scopes", url.Values{"name": {"orders:write"}, "roles": {"partner, admin partner"}, "description": {"Place orders"}})
	if p.status != http.StatusSeeOther || p.location != "/store/admin/scopes" {
		t.Fatalf("register orders:write: %d to %q\n%s", p.status, p.location, p.body)
	}
	p = root.get("/store/admin/scopes")
	if want := "Scope orders:write is saved: new tokens get it for users with the roles partner, admin."; flashOf(p) != want {
		t.Errorf("flash %q, want %q", flashOf(p), want)
	}
	mustContain(t, rowOf(p.body, "scope-orders:write"), "partner, admin", "Place orders")
	if p := root.get("/store/admin/scopes?name=orders:write"); !strings.Contains(p.body, `name="roles" type="text" value="partner, admin"`) {
		t.Errorf("Change does not fill the form in with the scope's roles:\n%s", p.body)
	}

	// The password grant gives it to users holding one of its roles only.
	fixture.User(t, env.db, "alice", "alice-password", "subscriber")
	fixture.User(t, env.db, "pat", "pat-password", "subscriber", "partner")
	key, _ := fixture.App(t, env.db, fixture.User(t, env.db, "dev", "dev-password"), "Shop")
	granted := func(username, password string) []string {
		t.Helper()
		resp, oerr := env.oauth.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantPassword, ClientID: key.ConsumerKey, ClientSecret: key.Secret,
			Username: username, Password: password, Scope: []string{"orders:write"}})
		if oerr != nil {
			t.Fatalf("%s's token: %v", username, oerr)
		}
		return strings.Fields(resp.Scope)
	}
	if got := granted("alice", "alice-password"); slices.Contains(got, "orders:write") {
		t.Errorf("alice, no partner, was granted %v", got)
	}
	if got := granted("pat", "pat-password"); !slices.Contains(got, "orders:write") {
		t.Errorf("pat, a partner, was granted %v", got)
	}

	if p := root.submit("/store/admin/scopes", url.Values{"name": {"orders:write"}, "roles": {""}, "description": {"Place orders"}}); p.status != http.StatusSeeOther {
		t.Fatalf("open orders:write to anyone: %d", p.status)
	}
	p = root.get("/store/admin/scopes")
	if want := "Scope orders:write is saved: new tokens get it for any user."; flashOf(p) != want {
		t.Errorf("flash %q, want %q", flashOf(p), want)
	}
	mustContain(t, rowOf(p.body, "scope-orders:write"), "any user")
	if got := granted("alice", "alice-password"); !slices.Contains(got, "orders:write") {
		t.Errorf("alice, the scope open to any user, was granted %v", got)
	}

	events, err := env.db.AuditEvents(ctx, portal.AuditQuery{Event: portal.AuditScopeChanged})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range events {
		if e.Username == "root" {
			details = append(details, e.Detail)
		}
	}
	slices.Sort(details)
	if want := []string{`on the Scopes page: scope orders:write, roles ""`, `on the Scopes page: scope orders:write, roles "partner,admin"`}; !slices.Equal(details, want) {
		t.Errorf("audited: %q, want %q", details, want)
	}

	// A tenant's administrator sees and registers its own scopes only.
	fixture.Tenant(t, env.db, "acme.com")
	admin := env.browser()
	if p := admin.submit("/t/acme.com/store/login", url.Values{"username": {"admin"}, "password": {"admin-password"}}); p.status != http.StatusSeeOther {
		t.Fatalf("acme.com's admin logs in: %d", p.status)
	}
	if p := admin.get("/t/acme.com/store/admin/scopes"); p.status != http.StatusOK || !strings.Contains(p.body, "No scope is registered yet.") {
		t.Errorf("acme.com's Scopes: %d, orders:write %q", p.status, rowOf(p.body, "scope-orders:write"))
	}
	if p := admin.submit("/t/acme.com/store/admin/scopes", url.Values{"name": {"acme:read"}, "roles": {"admin"}}); p.status != http.StatusSeeOther {
		t.Fatalf("acme.com registers a scope: %d", p.status)
	}
	if mine, err := env.db.Scopes(ctx, "acme.com"); err != nil || len(mine) != 1 || mine[0].Name != "acme:read" {
		t.Errorf("acme.com's scopes: %v, %v", mine, err)
	}
	if row := rowOf(root.get("/store/admin/scopes").body, "scope-acme:read"); row != "" {
		t.Errorf("the super tenant's page shows acme.com's scope: %q", row)
	}
}
