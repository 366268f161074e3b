package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/userstore"
)

// TestPartitionedTokensAtTheGateway: with CORP's tokens partitioned, an
// LDAP user's tokens (CORP/bob, by the password grant) name the partition,
// call the gateway, refresh, and are refused on the very next call once
// revoked at /revoke or by another process, while a primary user's tokens
// are as before. The gateway's own server was given no partitioning: the
// token names its partition and the database its table.
func TestPartitionedTokensAtTheGateway(t *testing.T) {
	ps, err := oauth.ParsePartitioning("CORP:A")
	if err != nil {
		t.Fatal(err)
	}
	e := newLDAPEnv(t, "(objectClass=inetOrgPerson)", func(o *oauth.Server) {
		o.SetTokenPartitioning(ps, func(u string) string { return userstore.ParseUsername(u).Domain })
	})
	if err := e.db.PartitionTokens(e.ctx, ps); err != nil {
		t.Fatal(err)
	}
	calls := func(what, tok string, want int) {
		t.Helper()
		if r := e.call("GET", "/pizzashack/1.0.0/menu", tok, nil); r.status != want {
			t.Errorf("%s: %d %v; want %d", what, r.status, r.body, want)
		}
	}

	bob := e.ldapTokens(t, "bob")
	if !strings.HasPrefix(bob.AccessToken, "CORP.") || !strings.HasPrefix(bob.RefreshToken, "CORP.") {
		t.Fatalf("bob's tokens %q, %q do not name CORP's partition", bob.AccessToken, bob.RefreshToken)
	}
	if n := fixture.Count(t, e.db, "SELECT count(*) FROM tokens_a"); n != 1 {
		t.Errorf("tokens_a holds %d tokens; want bob's", n)
	}
	primary := e.token(e.alice.prodKey, e.alice.prodSecret, "read")
	if strings.Contains(primary, ".") {
		t.Errorf("a primary user's token %q is marked", primary)
	}
	calls("bob's token", bob.AccessToken, http.StatusOK)
	calls("a primary user's token", primary, http.StatusOK)

	// Refresh, then revocation at /revoke: refused on the next call.
	next := e.tokens(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bob.RefreshToken}})
	calls("bob's refreshed token", next.AccessToken, http.StatusOK)
	if resp := e.post(t, "/revoke", url.Values{"token": {next.AccessToken}}); resp.StatusCode != http.StatusOK ||
		resp.Header.Get("AuthorizedUser") != "CORP/bob@carbon.super" {
		t.Fatalf("/revoke: %d, AuthorizedUser %q", resp.StatusCode, resp.Header.Get("AuthorizedUser"))
	}
	calls("bob's revoked token", next.AccessToken, http.StatusUnauthorized)

	// Revoked by another process (node): refused on the next call too.
	other := e.ldapTokens(t, "bob")
	calls("bob's other token", other.AccessToken, http.StatusOK)
	if err := e.otherProcess(func(d db.Store) error {
		return d.RevokeFamily(oauth.InPartition(e.ctx, oauth.PartitionOf(other.AccessToken)), oauth.HashOf(other.AccessToken))
	}); err != nil {
		t.Fatal(err)
	}
	calls("bob's token revoked by another process", other.AccessToken, http.StatusUnauthorized)
	calls("a primary user's token at the end", primary, http.StatusOK)
}
