package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAuditTrailForAdminsOnly: failed log-ins land in the audit trail, which
// only the admin role may read, with HTML in a typed username escaped.
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
	admin := env.publisher("ada", "admin")
	p := admin.get("/store/admin/audit")
	if p.status != http.StatusOK {
		t.Fatalf("admin: %d", p.status)
	}
	mustContain(t, p.body, `href="/store/admin/audit"`, "login_failed", "&lt;script&gt;x&lt;/script&gt;")
	mustNotContain(t, p.body, "<script>x")
}
