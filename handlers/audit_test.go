package handlers_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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
	events, err := b.env.db.AuditEvents(t.Context(), portal.AuditQuery{})
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

// TestAuditTrailFiltersAndPages: the Audit page filters by event, user,
// client and time range, pages beyond its first 200 events, answers bad
// filters with field messages (never an error page), and lets event names
// break only between words.
func TestAuditTrailFiltersAndPages(t *testing.T) {
	env := newStore(t)
	admin := env.publisher("ada", "admin")
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	record := func(i int, e portal.AuditEvent) {
		t.Helper()
		e.At, e.Detail = base.Add(time.Duration(i)*time.Minute), fmt.Sprintf("event-%03d.", i)
		if err := env.db.RecordAudit(t.Context(), &e); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 250 {
		record(i, portal.AuditEvent{Event: portal.AuditKeysGenerated, Username: "bob", Client: "ck-bob"})
	}
	record(250, portal.AuditEvent{Event: portal.AuditPasswordResetAsked, Username: "carol", Client: "ck-carol"})
	record(251, portal.AuditEvent{Event: portal.AuditLoginFailed, Username: "carol"})

	details := func(body string) []string { return regexp.MustCompile(`event-\d{3}\.`).FindAllString(body, -1) }
	t.Run("paging", func(t *testing.T) {
		p := admin.get("/store/admin/audit")
		got := details(p.body)
		if p.status != http.StatusOK || len(got) != 200 || got[0] != "event-251." || got[199] != "event-052." {
			t.Fatalf("first page: %d, %d events from %v", p.status, len(got), got[:min(len(got), 1)])
		}
		older := regexp.MustCompile(`href="(/store/admin/audit\?before=\d+)">Older events`).FindStringSubmatch(p.body)
		if older == nil {
			t.Fatal("no link to older events")
		}
		p = admin.get(html.UnescapeString(older[1]))
		got = details(p.body)
		// ada's own log-in events came first, with no detail of this form.
		if len(got) != 52 || got[0] != "event-051." || got[51] != "event-000." {
			t.Errorf("second page: %d events, %v", len(got), got)
		}
		mustContain(t, p.body, `href="/store/admin/audit">Newest events`)
		mustNotContain(t, p.body, "Older events")
	})

	for _, tt := range []struct {
		name  string
		query string
		want  []string
	}{
		{"an event", "event=password_reset_asked", []string{"event-250."}},
		{"a user, in any case", "user=CAROL", []string{"event-251.", "event-250."}},
		{"a client", "client=ck-carol", []string{"event-250."}},
		{"a time range", "since=2026-03-01T12:01&until=2026-03-01T12:03", []string{"event-002.", "event-001."}},
		{"everything together", "event=keys_generated&user=bob&client=ck-bob&since=2026-03-01T12:00&until=2026-03-01T12:01", []string{"event-000."}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := admin.get("/store/admin/audit?" + tt.query)
			if got := details(p.body); p.status != http.StatusOK || !slices.Equal(got, tt.want) {
				t.Errorf("%d, %v; want %v", p.status, got, tt.want)
			}
			mustContain(t, p.body, `>Clear</a>`)
		})
	}

	t.Run("a filter's page links keep the filter", func(t *testing.T) {
		p := admin.get("/store/admin/audit?user=bob")
		mustContain(t, p.body, `href="/store/admin/audit?before=`, `&amp;user=bob">Older events`)
	})

	for _, tt := range []struct{ query, message string }{
		{"event=no_such_event", "There is no such event."},
		{"since=yesterday", "Give a date and time"},
		{"until=2026-13-45T99:00", "Give a date and time"},
		{"since=2026-03-01T12:05&until=2026-03-01T12:01", "Give a time after From."},
		{"before=-1&user=%00", "Use text only: no control characters."},
		{"client=a%01b", "Use text only: no control characters."},
		{"user=%ff", "Use text only: no control characters."},
	} {
		t.Run("bad filter "+tt.query, func(t *testing.T) {
			p := admin.get("/store/admin/audit?" + tt.query)
			if p.status >= 500 {
				t.Fatalf("%d", p.status)
			}
			mustContain(t, p.body, tt.message)
		})
	}

	t.Run("event names break between words only", func(t *testing.T) {
		mustContain(t, admin.get("/store/admin/audit?event=password_reset_asked").body,
			`<code class="event">password_<wbr>reset_<wbr>asked</code>`)
	})
}
