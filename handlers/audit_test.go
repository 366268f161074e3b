package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/portal"
)

// TestAuditTrailForAdminsOnly: failed log-ins land in the audit trail, which
// only the admin role may read, with HTML in names escaped (an
// application's; a typed username that matches no account is masked).
func TestAuditTrailForAdminsOnly(t *testing.T) {
	env := newStore(t)
	if p := env.browser().get("/store/admin/audit"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/store/login") {
		t.Errorf("anonymous: %d %s, want the log-in page", p.status, p.location)
	}
	env.browser().logIn("<script>x</script>", "guess-guess")
	pub := env.publisher("pat", "publisher")
	if p := pub.get("/store/admin/audit"); p.status != http.StatusForbidden {
		t.Errorf("publisher: %d, want 403", p.status)
	}
	mustNotContain(t, pub.get("/store").body, `href="/store/admin/audit"`)
	pub.addApplication("<script>y</script>")
	admin := env.publisher("ada", "admin")
	p := admin.get("/store/admin/audit")
	if p.status != http.StatusOK {
		t.Fatalf("admin: %d", p.status)
	}
	mustContain(t, p.body, `href="/store/admin/audit"`, "login_failed", "(unknown user ", "&lt;script&gt;y&lt;/script&gt;")
	mustNotContain(t, p.body, "<script>x", "&lt;script&gt;x", "<script>y")
}

// TestKeyEventsAreAudited: logging in, adding an application, Generate,
// Update, editing the application, Re-generate, Regenerate secret and
// deleting the application each leave an event naming the user.
func TestKeyEventsAreAudited(t *testing.T) {
	b := newStore(t).publisher("alice", "subscriber")
	id := b.addApplication("Audited")
	base := fmt.Sprintf("/store/subscriptions/%d/production", id)
	edit := fmt.Sprintf("/store/applications/%d", id)
	for _, path := range []string{base + "/generate", base + "/update", edit, base + "/token", base + "/secret", edit + "/delete"} {
		form := url.Values{}
		switch {
		case strings.HasSuffix(path, "/generate") || strings.HasSuffix(path, "/update"):
			form = url.Values{"validity": {"3600"}, "grant_types": {"client_credentials"}}
		case path == edit:
			form = url.Values{"name": {"Audited"}, "tier": {"Gold"}, "callback_url": {"https://evil.example/cb"}}
		}
		if p := b.submit(path, form); p.status >= 400 {
			t.Fatalf("%s: %d", path, p.status)
		}
	}
	events, err := b.env.db.AuditEvents(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		if e.Username != "alice" {
			t.Errorf("event %+v does not name alice", e)
		}
		// The Client column holds consumer keys, for every event alike;
		// the application's name is in the detail.
		keyless := e.Event == portal.AuditLogin || e.Event == portal.AuditApplicationCreated
		if (e.Client == "") != keyless || strings.Contains(e.Client, "Audited") {
			t.Errorf("event %s: Client %q, want the consumer key", e.Event, e.Client)
		}
		if e.Event == portal.AuditApplicationDeleted && !strings.Contains(e.Detail, "Audited") {
			t.Errorf("application_deleted: detail %q does not name the application", e.Detail)
		}
		if e.Event == portal.AuditApplicationUpdated && (!strings.Contains(e.Detail, "Audited") || !strings.Contains(e.Detail, "https://evil.example/cb")) {
			t.Errorf("application_updated: detail %q does not name the application and its callback URL", e.Detail)
		}
		got = append(got, e.Event)
	}
	slices.Reverse(got)
	want := []string{portal.AuditLogin, portal.AuditApplicationCreated, portal.AuditKeysGenerated, portal.AuditKeyUpdated,
		portal.AuditApplicationUpdated, portal.AuditAppTokensRevoked, portal.AuditSecretRegenerated, portal.AuditApplicationDeleted}
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}
