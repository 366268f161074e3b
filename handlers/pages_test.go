package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEveryPageAnonymousAndLoggedIn opens each store page as a visitor and
// as a user: public pages answer both, private ones send the visitor to log
// in and come back.
func TestEveryPageAnonymousAndLoggedIn(t *testing.T) {
	env := newStore(t)
	user := env.browser()
	user.signUp("alice", "alice-password")
	id := user.addApplication("Shop")
	anon := env.browser()

	tests := []struct {
		path       string
		public     bool   // anonymous visitors see it too
		userStatus int    // for the logged-in user
		userSees   string // on the logged-in user's page
	}{
		{"/store", true, http.StatusOK, "PizzaShackAPI"},
		{"/store/apis/1", true, http.StatusOK, "Subscribe"},
		{"/store/login", true, http.StatusSeeOther, ""},
		{"/store/signup", true, http.StatusSeeOther, ""},
		{"/store/static/app.css", true, http.StatusOK, "apistore"},
		{"/store/applications", false, http.StatusOK, "Shop"},
		{"/store/applications/new", false, http.StatusOK, "Add application"},
		{fmt.Sprintf("/store/applications/%d/edit", id), false, http.StatusOK, "Edit application"},
		{fmt.Sprintf("/store/applications/%d/delete", id), false, http.StatusOK, "Delete Shop?"},
		{"/store/subscriptions", false, http.StatusOK, "Production"},
		{fmt.Sprintf("/store/subscriptions?app=%d", id), false, http.StatusOK, "Sandbox"},
		{"/store/account", false, http.StatusOK, "My account"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p := anon.get(tt.path)
			switch {
			case tt.public && p.status != http.StatusOK:
				t.Errorf("anonymous: %d", p.status)
			case !tt.public && (p.status != http.StatusSeeOther || p.location != "/store/login?return="+url.QueryEscape(tt.path)):
				t.Errorf("anonymous: %d to %q", p.status, p.location)
			}
			p = user.get(tt.path)
			if p.status != tt.userStatus || !strings.Contains(p.body, tt.userSees) {
				t.Errorf("logged in: %d, page lacks %q", p.status, tt.userSees)
			}
			if strings.HasPrefix(tt.path, "/store/static") {
				return
			}
			if p.status == http.StatusOK {
				mustContain(t, p.body, `data-testid="username">alice<`, "Log out")
			}
		})
	}
}

// TestReloadingAFormAnswer opens the addresses forms are sent to, as a user
// pressing Enter in the address bar after Generate or Save does: the page
// says what happened instead of a bare "Method Not Allowed".
func TestReloadingAFormAnswer(t *testing.T) {
	env := newStore(t)
	b := env.browser()
	b.signUp("alice", "alice-password")
	id := b.addApplication("Shop")
	for _, path := range []string{
		fmt.Sprintf("/store/subscriptions/%d/production/generate", id),
		fmt.Sprintf("/store/subscriptions/%d/sandbox/update", id), // …/token and …/secret ask first (TestDestructiveActionsAskFirst)
		fmt.Sprintf("/store/applications/%d", id),
		"/store/apis/1/subscribe",
		"/store/logout",
	} {
		p := b.get(path)
		if p.status != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d", path, p.status)
		}
		mustContain(t, p.body, "This address only takes a form sent from the store")
		mustNotContain(t, p.body, "The request could not be handled.")
	}
}
