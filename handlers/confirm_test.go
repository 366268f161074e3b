package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// postForms counts the forms on a page that post to path.
func postForms(body, path string) int {
	return len(regexp.MustCompile(`<form[^>]* method="post" action="`+regexp.QuoteMeta(path)+`"`).FindAllString(body, -1))
}

// TestDestructiveActionsAskFirst: Re-generate, Regenerate secret and Revoke
// access end tokens at once, so, as Delete application, they are links to
// a page that says what will happen, with the form that does it (which
// works without JavaScript) and a way back; opening that page changes
// nothing. Another user's application is a 404 there too.
func TestDestructiveActionsAskFirst(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	b := env.browser()
	b.signUp("alice", "alice-password")
	id := b.addApplication("Shop")
	base := fmt.Sprintf("/store/subscriptions/%d/production", id)
	p := b.submit(base+"/generate", url.Values{"validity": {"3600"}, "grant_types": {"client_credentials"}})
	if p.status != http.StatusOK {
		t.Fatalf("generate: %d", p.status)
	}
	token := shown(t, p.body, "production-access-token")
	key := shown(t, p.body, "production-consumer-key")
	secret := shown(t, p.body, "production-consumer-secret")

	keys := b.get(fmt.Sprintf("/store/subscriptions?app=%d", id)).body
	for _, tt := range []struct{ action, button, warning string }{
		{"token", "Re-generate", "stops working at once"},
		{"secret", "Regenerate secret", "every access token issued to these keys"},
	} {
		if n := postForms(keys, base+"/"+tt.action); n != 0 {
			t.Errorf("My Subscriptions %s: %d forms that act at once", tt.button, n)
		}
		mustContain(t, keys, `href="`+base+`/`+tt.action+`"`)
		confirm := b.get(base + "/" + tt.action)
		if confirm.status != http.StatusOK || postForms(confirm.body, base+"/"+tt.action) != 1 {
			t.Fatalf("%s confirmation: %d\n%s", tt.button, confirm.status, confirm.body)
		}
		mustContain(t, confirm.body, tt.warning, ">"+tt.button+"</button>", "Shop", "Production",
			fmt.Sprintf(`href="/store/subscriptions?app=%d"`, id), "Cancel")
	}
	if _, err := env.oauth.Validate(ctx, token); err != nil {
		t.Errorf("the token after only looking: %v", err)
	}
	if _, oerr := env.oauth.AuthenticateClient(ctx, key, secret); oerr != nil {
		t.Errorf("the secret after only looking: %v", oerr)
	}

	// Revoke access, from Authorized Apps.
	alice, err := env.db.UserAccount(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.db.SaveConsent(ctx, &portal.Consent{UserID: alice.ID, AppID: id, Scopes: []string{oauth.DefaultScope}, ApprovedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	list := b.get("/store/authorized").body
	if n := postForms(list, "/store/authorized/revoke"); n != 0 {
		t.Errorf("Authorized Apps: %d forms that revoke at once", n)
	}
	link := "/store/authorized/revoke?app_id=" + strconv.FormatInt(id, 10)
	mustContain(t, list, `href="`+link+`"`)
	confirm := b.get(link)
	if confirm.status != http.StatusOK || postForms(confirm.body, "/store/authorized/revoke") != 1 {
		t.Fatalf("Revoke access confirmation: %d\n%s", confirm.status, confirm.body)
	}
	mustContain(t, confirm.body, "Revoke access of Shop?", `name="app_id" value="`+strconv.FormatInt(id, 10)+`"`,
		">Revoke access</button>", `href="/store/authorized"`)
	mustContain(t, b.get("/store/authorized").body, "Shop")

	// Someone else's application, keys never generated, an approval never given.
	other := env.browser()
	other.signUp("mallory", "mallory-password")
	for _, path := range []string{base + "/token", base + "/secret", link, fmt.Sprintf("/store/subscriptions/%d/sandbox/token", id)} {
		if p := other.get(path); p.status != http.StatusNotFound {
			t.Errorf("mallory GET %s: %d, want 404", path, p.status)
		}
	}
	if p := b.get(fmt.Sprintf("/store/subscriptions/%d/sandbox/secret", id)); p.status != http.StatusNotFound {
		t.Errorf("keys not generated: %d, want 404", p.status)
	}
	if p := b.get("/store/authorized/revoke?app_id=abc"); p.status != http.StatusBadRequest {
		t.Errorf("a malformed app_id: %d, want 400", p.status)
	}
}
