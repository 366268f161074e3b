package oauth_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/userstore"
)

var corpA = []oauth.Partition{{Domain: "CORP", Name: "a"}}

// bobFull is CORP/bob's full name, as introspection and the revocation
// headers give it: the super tenant's user.
const bobFull = "CORP/bob@carbon.super"

// partitionEnv is a database with a CORP user store whose user CORP/bob
// owns an application (opaque tokens) and a JWT one, and a primary user
// alice with one of her own.
type partitionEnv struct {
	db                     db.Store
	clock                  *fixture.Clock
	bob                    *portal.User
	bobKey, jwtKey, aliceK fixture.Key
}

func newPartitionEnv(t *testing.T) *partitionEnv {
	t.Helper()
	d := fixture.DB(t)
	e := &partitionEnv{db: d, clock: fixture.NewClock(time.Unix(1_800_000_000, 0))}
	fixture.Scope(t, d, "read")
	us := &portal.UserStore{Domain: "CORP", URL: "ldap://127.0.0.1:1", BindDN: "cn=x", BindPassword: "x",
		UserSearchBase: "ou=people", UserFilter: "(objectClass=person)", UserAttribute: "uid", GroupSearchBase: "ou=groups"}
	if err := d.CreateUserStore(t.Context(), us); err != nil {
		t.Fatal(err)
	}
	bob, err := d.UpsertStoreUser(t.Context(), us.ID, "CORP/bob", []string{"subscriber"})
	if err != nil {
		t.Fatal(err)
	}
	e.bob = bob
	e.bobKey, _ = fixture.AppWithCallback(t, d, bob, "BobApp", fixtureCallback,
		oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials)
	alice := fixture.User(t, d, "alice", "alice-password", "subscriber")
	e.aliceK, _ = fixture.App(t, d, alice, "AliceApp")
	e.jwtKey = jwtApp(t, d, bob)
	return e
}

// server returns a server over the database with the partitioning ps,
// which it gives the database first, as serve does.
func (e *partitionEnv) server(t *testing.T, ps []oauth.Partition) *oauth.Server {
	t.Helper()
	if err := e.db.PartitionTokens(t.Context(), ps); err != nil {
		t.Fatal(err)
	}
	srv := oauth.NewServer(e.db, oauth.Validity{}, e.clock.Now)
	srv.RefreshGrace(0)
	srv.SetTokenPartitioning(ps, func(username string) string { return userstore.ParseUsername(username).Domain })
	srv.UseJWT(oauth.NewKeys(e.db, e.clock.Now), testIssuer, func(ctx context.Context, id int64) (*oauth.User, error) {
		u, err := e.db.UserByID(ctx, id)
		if err != nil {
			return nil, err
		}
		return &u.User, nil
	})
	return srv
}

// codeTokens gets bob's tokens from BobApp by the authorization code grant.
func (e *partitionEnv) codeTokens(t *testing.T, srv *oauth.Server) (code string, resp *oauth.TokenResponse) {
	t.Helper()
	ctx := context.Background()
	r, oerr := oauth.ParseAuthorizeRequest("response_type=code&client_id=" + e.bobKey.ConsumerKey + "&scope=read")
	if oerr != nil {
		t.Fatal(oerr)
	}
	a, oerr := srv.CheckAuthorize(ctx, r)
	if oerr != nil {
		t.Fatal(oerr)
	}
	to, oerr := srv.Approve(ctx, a, &e.bob.User)
	if oerr != nil {
		t.Fatal(oerr)
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	code = u.Query().Get("code")
	resp, oerr = srv.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantAuthorizationCode,
		ClientID: e.bobKey.ConsumerKey, ClientSecret: e.bobKey.Secret, Code: code})
	if oerr != nil {
		t.Fatalf("exchange %q: %v", code, oerr)
	}
	return code, resp
}

func refresh(srv *oauth.Server, k fixture.Key, token string) (*oauth.TokenResponse, *oauth.Error) {
	return srv.Token(context.Background(), &oauth.TokenRequest{GrantType: oauth.GrantRefreshToken,
		ClientID: k.ConsumerKey, ClientSecret: k.Secret, RefreshToken: token})
}

func clientCredentials(t *testing.T, srv *oauth.Server, k fixture.Key) string {
	t.Helper()
	resp, oerr := srv.Token(context.Background(), &oauth.TokenRequest{GrantType: oauth.GrantClientCredentials,
		ClientID: k.ConsumerKey, ClientSecret: k.Secret})
	if oerr != nil {
		t.Fatal(oerr)
	}
	return resp.AccessToken
}

// wantValid checks that srv accepts an access token as bob's (or, for an
// application token of alice's, alice's) in partition p.
func wantValid(t *testing.T, srv *oauth.Server, what, token, user, p string) {
	t.Helper()
	info, err := srv.Validate(context.Background(), token)
	if err != nil || info.Username != user || info.Partition != p {
		t.Errorf("%s: %+v, %v; want valid, %s's, in partition %q", what, info, err, user, p)
	}
}

func wantInvalid(t *testing.T, srv *oauth.Server, what, token string) {
	t.Helper()
	if info, err := srv.Validate(context.Background(), token); err == nil {
		t.Errorf("%s: valid (%+v); want refused", what, info)
	}
}

func TestPartitionedTokenFlows(t *testing.T) {
	e := newPartitionEnv(t)
	srv := e.server(t, corpA)
	ctx := context.Background()

	code, resp := e.codeTokens(t, srv)
	for what, s := range map[string]string{"code": code, "access token": resp.AccessToken, "refresh token": resp.RefreshToken} {
		if !strings.HasPrefix(s, "CORP.") || oauth.PartitionOf(s) != "CORP" {
			t.Errorf("bob's %s %q does not name CORP's partition", what, s)
		}
	}
	wantValid(t, srv, "bob's access token", resp.AccessToken, bobFull, "CORP")
	in, oerr := srv.Introspect(ctx, &oauth.TokenHintRequest{Token: resp.RefreshToken, ClientID: e.bobKey.ConsumerKey, ClientSecret: e.bobKey.Secret})
	if oerr != nil || !in.Active || in.Username != bobFull {
		t.Errorf("introspect bob's refresh token: %+v, %v", in, oerr)
	}

	// Refresh, then reuse detection: the replay revokes the chain.
	next, oerr := refresh(srv, e.bobKey, resp.RefreshToken)
	if oerr != nil || oauth.PartitionOf(next.AccessToken) != "CORP" || oauth.PartitionOf(next.RefreshToken) != "CORP" {
		t.Fatalf("refresh: %+v, %v; want tokens of CORP's partition", next, oerr)
	}
	wantValid(t, srv, "the refreshed access token", next.AccessToken, bobFull, "CORP")
	if _, oerr := refresh(srv, e.bobKey, resp.RefreshToken); oerr == nil || !oerr.Replay {
		t.Fatalf("reused refresh token: %v; want a replay", oerr)
	}
	wantInvalid(t, srv, "the refreshed access token after the replay", next.AccessToken)

	// A code used twice revokes its tokens.
	code, resp = e.codeTokens(t, srv)
	if _, oerr := srv.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantAuthorizationCode,
		ClientID: e.bobKey.ConsumerKey, ClientSecret: e.bobKey.Secret, Code: code}); oerr == nil || !oerr.Replay {
		t.Fatalf("reused code: %v; want a replay", oerr)
	}
	wantInvalid(t, srv, "the reused code's access token", resp.AccessToken)

	// Revocation of an access token, then of a chain by its refresh token.
	_, resp = e.codeTokens(t, srv)
	if rev, oerr := srv.Revoke(ctx, &oauth.TokenHintRequest{Token: resp.AccessToken, ClientID: e.bobKey.ConsumerKey,
		ClientSecret: e.bobKey.Secret}); oerr != nil || rev == nil || rev.Username != bobFull {
		t.Fatalf("revoke: %+v, %v", rev, oerr)
	}
	wantInvalid(t, srv, "the revoked access token", resp.AccessToken)
	_, resp = e.codeTokens(t, srv)
	if _, oerr := srv.Revoke(ctx, &oauth.TokenHintRequest{Token: resp.RefreshToken, ClientID: e.bobKey.ConsumerKey,
		ClientSecret: e.bobKey.Secret}); oerr != nil {
		t.Fatal(oerr)
	}
	wantInvalid(t, srv, "the access token of a revoked chain", resp.AccessToken)

	// Application tokens: the owner's domain decides; a primary user's
	// are as they always were.
	app := clientCredentials(t, srv, e.bobKey)
	if oauth.PartitionOf(app) != "CORP" {
		t.Errorf("bob's application token %q is not in CORP's partition", app)
	}
	wantValid(t, srv, "bob's application token", app, bobFull, "CORP")
	alices := clientCredentials(t, srv, e.aliceK)
	if strings.Contains(alices, ".") || oauth.PartitionOf(alices) != "" {
		t.Errorf("alice's application token %q is marked", alices)
	}
	wantValid(t, srv, "alice's application token", alices, "alice@carbon.super", "")

	// A JWT access token names its partition in a claim.
	jwt := clientCredentials(t, srv, e.jwtKey)
	if strings.Count(jwt, ".") != 2 || oauth.PartitionOf(jwt) != "CORP" {
		t.Errorf("bob's JWT %q does not name CORP's partition", jwt)
	}
	wantValid(t, srv, "bob's JWT", jwt, bobFull, "CORP")
	if _, oerr := srv.Revoke(ctx, &oauth.TokenHintRequest{Token: jwt, ClientID: e.jwtKey.ConsumerKey, ClientSecret: e.jwtKey.Secret}); oerr != nil {
		t.Fatal(oerr)
	}
	wantInvalid(t, srv, "bob's revoked JWT", jwt)
}

func TestPartitioningOnAndOff(t *testing.T) {
	e := newPartitionEnv(t)
	off := e.server(t, nil)
	_, before := e.codeTokens(t, off)
	beforeApp := clientCredentials(t, off, e.bobKey)
	beforeJWT := clientCredentials(t, off, e.jwtKey)
	if strings.Contains(before.AccessToken, ".") || oauth.PartitionOf(beforeJWT) != "" {
		t.Fatalf("tokens issued without partitioning are marked: %q, %q", before.AccessToken, beforeJWT)
	}

	on := e.server(t, corpA)
	wantValid(t, on, "an access token issued before", before.AccessToken, bobFull, "CORP")
	wantValid(t, on, "an application token issued before", beforeApp, bobFull, "CORP")
	wantValid(t, on, "a JWT issued before", beforeJWT, bobFull, "CORP")
	_, during := e.codeTokens(t, on)
	// The chain issued before goes on, in the partition, marked now.
	next, oerr := refresh(on, e.bobKey, before.RefreshToken)
	if oerr != nil || oauth.PartitionOf(next.RefreshToken) != "CORP" {
		t.Fatalf("refresh of a token issued before: %+v, %v", next, oerr)
	}
	if _, oerr := refresh(on, e.bobKey, before.RefreshToken); oerr == nil || !oerr.Replay {
		t.Errorf("reuse of a moved refresh token: %v; want a replay", oerr)
	}
	wantInvalid(t, on, "the chain of a replayed moved refresh token", next.AccessToken)

	off = e.server(t, nil)
	wantValid(t, off, "an application token issued before, off again", beforeApp, bobFull, "")
	wantValid(t, off, "an access token issued with partitioning, off", during.AccessToken, bobFull, "")
	again, oerr := refresh(off, e.bobKey, during.RefreshToken)
	if oerr != nil || strings.Contains(again.AccessToken, ".") {
		t.Fatalf("refresh of a marked token, off: %+v, %v; want unmarked tokens", again, oerr)
	}
	if _, oerr := off.Revoke(context.Background(), &oauth.TokenHintRequest{Token: beforeJWT, ClientID: e.jwtKey.ConsumerKey,
		ClientSecret: e.jwtKey.Secret}); oerr != nil {
		t.Fatal(oerr)
	}
	wantInvalid(t, off, "a revoked JWT", beforeJWT)

	on = e.server(t, []oauth.Partition{{Domain: "corp", Name: "B"}})
	wantValid(t, on, "an application token issued before, on again", beforeApp, bobFull, "CORP")
	wantValid(t, on, "a token refreshed while off, on again", again.AccessToken, bobFull, "CORP")
	wantInvalid(t, on, "a revoked JWT, on again", beforeJWT)
}

func TestPartitionOf(t *testing.T) {
	claim := func(json string) string {
		return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(json)) + ".sig"
	}
	for token, want := range map[string]string{
		"":                                "",
		oauth.NewSecret():                 "",
		"CORP." + oauth.NewSecret():       "CORP",
		"corp." + oauth.NewSecret():       "CORP",
		"CO RP." + oauth.NewSecret():      "",
		claim(`{"partition":"PARTNERS"}`): "PARTNERS",
		claim(`{"sub":"alice"}`):          "",
		claim(`{"partition":"a.b"}`):      "",
		"a.b.c":                           "",
	} {
		if got := oauth.PartitionOf(token); got != want {
			t.Errorf("PartitionOf(%q) = %q; want %q", token, got, want)
		}
	}
}
