package handlers_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/portal"
)

// rowOf is the table row of a page whose data-testid is testID, "" when
// there is none.
func rowOf(body, testID string) string {
	i := strings.Index(body, `data-testid="`+testID+`"`)
	if i < 0 {
		return ""
	}
	row := body[i:]
	return row[:strings.Index(row, "</tr>")]
}

// flashOf is the flash message a page shows.
func flashOf(p page) string {
	if m := flashText.FindStringSubmatch(p.body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

func TestTiersPageIsForAdminsOnly(t *testing.T) {
	env := newStore(t)
	root := env.admin()
	alice := env.browser()
	alice.signUp("alice", "alice-password")

	mustContain(t, root.get("/store").body, `href="/store/admin/tiers">Tiers<`)
	mustNotContain(t, alice.get("/store").body, `href="/store/admin/tiers"`)
	if p := env.browser().get("/store/admin/tiers"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/store/login") {
		t.Errorf("anonymous: %d to %q", p.status, p.location)
	}
	if p := alice.get("/store/admin/tiers"); p.status != http.StatusForbidden {
		t.Errorf("GET as a subscriber: %d", p.status)
	}
	for _, path := range []string{"/store/admin/tiers", "/store/admin/tiers/delete"} {
		if p := alice.submit(path, url.Values{"name": {"Gold"}, "rpm": {"1"}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s as a subscriber: %d", path, p.status)
		}
	}
	if p := root.post("/store/admin/tiers", url.Values{"name": {"Gold"}, "rpm": {"1"}}); p.status != http.StatusForbidden {
		t.Errorf("POST without the form token: %d", p.status)
	}
	if tiers, err := env.db.Tiers(context.Background(), portal.SuperTenantID); err != nil || len(tiers) != 0 {
		t.Errorf("tiers after the refused posts: %v, %v", tiers, err)
	}
}

// TestTiersPage: an administrator lists their tenant's tiers, adds one,
// sets a default tier's limit and gives it back, and is told why a tier
// in use stays; bad values are refused with the form kept. Every change is
// in the audit trail, and another tenant's tiers are its own.
func TestTiersPage(t *testing.T) {
	env := newStore(t)
	ctx := context.Background()
	root := env.admin()

	p := root.get("/store/admin/tiers")
	if p.status != http.StatusOK {
		t.Fatalf("Tiers: %d", p.status)
	}
	mustContain(t, rowOf(p.body, "tier-Gold"), "the gateway&#39;s --tier-gold", `href="/store/admin/tiers?name=Gold#tier-form"`)
	mustContain(t, rowOf(p.body, "tier-Unlimited"), "unlimited")
	mustNotContain(t, rowOf(p.body, "tier-Unlimited"), "Change", "Delete")

	for _, bad := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"name": {""}, "rpm": {"10"}}, "1 to 32 letters, digits, - or _"},
		{url.Values{"name": {"9lives"}, "rpm": {"10"}}, "1 to 32 letters, digits, - or _"},
		{url.Values{"name": {"Unlimited"}, "rpm": {"10"}}, "Unlimited is never limited"},
		{url.Values{"name": {"Platinum"}, "rpm": {"-1"}}, "0 (unlimited) to 100000000"},
		{url.Values{"name": {"Platinum"}, "rpm": {"lots"}}, "0 (unlimited) to 100000000"},
		{url.Values{"name": {"Platinum"}, "rpm": {"100000001"}}, "0 (unlimited) to 100000000"},
		{url.Values{"name": {"Platinum"}, "rpm": {"10"}, "description": {"a\x00b"}}, "no control characters"},
	} {
		p := root.submit("/store/admin/tiers", bad.form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(p.body), bad.want) ||
			!strings.Contains(p.body, `value="`+html.EscapeString(bad.form.Get("rpm"))+`"`) {
			t.Errorf("%v: %d, want 422 saying %q with the form kept", bad.form, p.status, bad.want)
		}
	}
	if tiers, err := env.db.Tiers(ctx, portal.SuperTenantID); err != nil || len(tiers) != 0 {
		t.Fatalf("tiers after the refused forms: %v, %v", tiers, err)
	}

	for _, set := range []struct{ name, rpm, description, flash, limit string }{
		{"Platinum", "600", "For partners", "Tier Platinum: 600 requests per minute.", "600 requests per minute"},
		{"Gold", "30", "", "Tier Gold: 30 requests per minute.", "30 requests per minute"},
		{"Free", "0", "", "Tier Free: unlimited.", "unlimited"},
	} {
		p := root.submit("/store/admin/tiers", url.Values{"name": {set.name}, "rpm": {set.rpm}, "description": {set.description}})
		if p.status != http.StatusSeeOther || p.location != "/store/admin/tiers" {
			t.Fatalf("set %s: %d to %q\n%s", set.name, p.status, p.location, p.body)
		}
		p = root.get("/store/admin/tiers")
		if !strings.HasPrefix(flashOf(p), set.flash) {
			t.Errorf("set %s: flash %q, want %q", set.name, flashOf(p), set.flash)
		}
		mustContain(t, rowOf(p.body, "tier-"+set.name), set.limit, set.description)
	}
	mustContain(t, rowOf(root.get("/store/admin/tiers").body, "tier-Gold"), "Use the gateway's limit")
	mustContain(t, rowOf(root.get("/store/admin/tiers").body, "tier-Platinum"), ">Delete<")
	if p := root.get("/store/admin/tiers?name=Gold"); !strings.Contains(p.body, `name="rpm" type="number" value="30"`) ||
		!strings.Contains(p.body, `name="name" type="text" value="Gold"`) {
		t.Errorf("Change Gold does not fill the form in with its limit:\n%s", p.body)
	}
	tiers, err := env.db.Tiers(ctx, portal.SuperTenantID)
	if err != nil || len(tiers) != 3 {
		t.Fatalf("stored tiers: %v, %v", tiers, err)
	}

	// A tier in use stays, and the page says why.
	alice := env.browser()
	alice.signUp("alice", "alice-password")
	if p := alice.submit("/store/applications", url.Values{"name": {"Shop"}, "tier": {"Platinum"}}); p.status != http.StatusSeeOther {
		t.Fatalf("an application on Platinum: %d\n%s", p.status, p.body)
	}
	for _, del := range []struct{ name, flash, limit string }{
		{"Platinum", "Tier Platinum is in use: remove it from your APIs, subscriptions and applications first.", "600 requests per minute"},
		{"Gold", "Tier Gold has the gateway's limit again.", "the gateway&#39;s --tier-gold"},
		{"Free", "Tier Free is deleted.", ""},
		{"Silver", `There is no tier "Silver" of your own to delete.`, "the gateway&#39;s --tier-silver"},
		{strings.Repeat("x", 5000), "There is no such tier of your own to delete.", ""},
	} {
		if p := root.submit("/store/admin/tiers/delete", url.Values{"name": {del.name}}); p.status != http.StatusSeeOther || p.location != "/store/admin/tiers" {
			t.Fatalf("delete %.40s: %d to %q", del.name, p.status, p.location)
		}
		p := root.get("/store/admin/tiers")
		if flashOf(p) != del.flash {
			t.Errorf("delete %.40s: flash %q, want %q", del.name, flashOf(p), del.flash)
		}
		if row := rowOf(p.body, "tier-"+del.name); del.limit == "" && row != "" || del.limit != "" && !strings.Contains(row, del.limit) {
			t.Errorf("after deleting %.40s, its row: %q", del.name, row)
		}
	}

	events, err := env.db.AuditEvents(ctx, portal.AuditQuery{Event: portal.AuditTierChanged})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range events {
		if e.Username == "root" {
			details = append(details, e.Detail)
		}
	}
	for _, want := range []string{"on the Tiers page: tier Platinum, 600 requests per minute", "on the Tiers page: tier Gold, 30 requests per minute",
		"on the Tiers page: tier Free, unlimited", "on the Tiers page: tier Gold, the gateway's limit again", "on the Tiers page: tier Free deleted"} {
		if !strings.Contains(strings.Join(details, "\n"), want) {
			t.Errorf("audit trail: no %q in %q", want, details)
		}
	}
	if len(details) != 5 {
		t.Errorf("audited %d tier changes, want 5 (the refused ones are not): %q", len(details), details)
	}

	// A tenant's administrator sees and sets its own tiers only.
	acme, _ := fixture.Tenant(t, env.db, "acme.com")
	admin := env.browser()
	if p := admin.submit("/t/acme.com/store/login", url.Values{"username": {"admin"}, "password": {"admin-password"}}); p.status != http.StatusSeeOther {
		t.Fatalf("acme.com's admin logs in: %d", p.status)
	}
	p = admin.get("/t/acme.com/store/admin/tiers")
	if p.status != http.StatusOK || rowOf(p.body, "tier-Platinum") != "" || !strings.Contains(p.body, "acme.com's APIs") {
		t.Errorf("acme.com's Tiers: %d, Platinum %q", p.status, rowOf(p.body, "tier-Platinum"))
	}
	if p := admin.submit("/t/acme.com/store/admin/tiers", url.Values{"name": {"Road-runner"}, "rpm": {"5"}}); p.status != http.StatusSeeOther ||
		p.location != "/t/acme.com/store/admin/tiers" {
		t.Fatalf("acme.com sets a tier: %d to %q", p.status, p.location)
	}
	if mine, err := env.db.Tiers(ctx, acme.ID); err != nil || len(mine) != 1 || mine[0].Name != "Road-runner" || mine[0].RPM != 5 {
		t.Errorf("acme.com's tiers: %v, %v", mine, err)
	}
	if row := rowOf(root.get("/store/admin/tiers").body, "tier-Road-runner"); row != "" {
		t.Errorf("the super tenant's page shows acme.com's tier: %q", row)
	}
}
