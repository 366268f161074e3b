package oauth_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

const (
	tokenURL = "https://api.example:8243/token"
	apiURL   = "https://api.example:8243/pizzashack/1.0.0/menu"
)

// dpop is a DPoP request carrying proof for method and url.
func dpop(method, url string, proofs ...string) *oauth.DPoPRequest {
	return &oauth.DPoPRequest{Proofs: proofs, Method: method, URL: url}
}

// TestDPoPBindsTokens: a token request with a proof gets a DPoP token bound
// to the proof key's thumbprint (RFC 9449 §5), which introspection reports
// as cnf.jkt (§6.2); one without gets a bearer token.
func TestDPoPBindsTokens(t *testing.T) {
	e := newEnv(t, oauth.Validity{})
	ctx := context.Background()
	key := fixture.NewDPoPKey(t, e.clock.Now)
	bound := e.mustToken(t, oauth.TokenRequest{GrantType: "client_credentials",
		DPoP: dpop("POST", tokenURL, key.Proof("POST", tokenURL, ""))})
	bearer := e.mustToken(t, oauth.TokenRequest{GrantType: "client_credentials"})
	if bound.TokenType != "DPoP" || bearer.TokenType != "Bearer" {
		t.Fatalf("token types %q and %q; want DPoP and Bearer", bound.TokenType, bearer.TokenType)
	}
	for _, c := range []struct {
		token, typ, jkt string
	}{{bound.AccessToken, "DPoP", key.JKT}, {bearer.AccessToken, "Bearer", ""}} {
		got, oerr := e.srv.Introspect(ctx, &oauth.TokenHintRequest{Token: c.token, ClientID: e.key.ConsumerKey, ClientSecret: e.key.Secret})
		if oerr != nil {
			t.Fatal(oerr)
		}
		jkt := ""
		if got.Cnf != nil {
			jkt = got.Cnf.JKT
		}
		if !got.Active || got.TokenType != c.typ || jkt != c.jkt {
			t.Errorf("introspection %+v (jkt %q); want active %s, jkt %q", got, jkt, c.typ, c.jkt)
		}
	}
	info, err := e.srv.Validate(ctx, bound.AccessToken)
	if err != nil || info.JKT != key.JKT {
		t.Fatalf("Validate: jkt %q, %v; want %q", info.JKT, err, key.JKT)
	}
	if m := e.srv.Metadata("https://api.example:8243", nil); !slices.Contains(m.DPoPSigningAlgValuesSupported, "ES256") {
		t.Errorf("metadata dpop_signing_alg_values_supported %v; want ES256 among them", m.DPoPSigningAlgValuesSupported)
	}
}

// boundToken is an env with alice's application token bound to key, and
// another key.
func boundToken(t *testing.T) (e *env, key, other *fixture.DPoPKey, token string) {
	t.Helper()
	e = newEnv(t, oauth.Validity{})
	key, other = fixture.NewDPoPKey(t, e.clock.Now), fixture.NewDPoPKey(t, e.clock.Now)
	token = e.mustToken(t, oauth.TokenRequest{GrantType: "client_credentials",
		DPoP: dpop("POST", tokenURL, key.Proof("POST", tokenURL, ""))}).AccessToken
	return e, key, other, token
}

// TestDPoPProofChecks: every check of RFC 9449 §4.3 and §7.1 refuses a
// proof that fails it, at a resource, with invalid_dpop_proof.
func TestDPoPProofChecks(t *testing.T) {
	e, key, other, tok := boundToken(t)
	ctx := context.Background()
	replayed := key.Proof("GET", apiURL, tok)
	if oerr := e.srv.CheckBoundToken(ctx, dpop("GET", apiURL, replayed), tok, key.JKT); oerr != nil {
		t.Fatalf("a good proof: %v", oerr)
	}
	stale := func(c *fixture.ProofClaims) { c.IAT -= 61 }
	tests := []struct {
		name string
		req  *oauth.DPoPRequest
		want string // in the description
	}{
		{"no proof", dpop("GET", apiURL), "send it as Authorization: DPoP"},
		{"replayed", dpop("GET", apiURL, replayed), "used already"},
		{"another URL", dpop("GET", apiURL, key.Proof("GET", "https://api.example:8243/pizzashack/1.0.0/order", tok)), "htu"},
		{"another host", dpop("GET", apiURL, key.Proof("GET", "https://evil.example:8243/pizzashack/1.0.0/menu", tok)), "htu"},
		{"another method", dpop("GET", apiURL, key.Proof("POST", apiURL, tok)), "htm"},
		{"stale", dpop("GET", apiURL, key.Proof("GET", apiURL, tok, stale)), "more than a minute"},
		{"from the future", dpop("GET", apiURL, key.Proof("GET", apiURL, tok, func(c *fixture.ProofClaims) { c.IAT += 61 })), "more than a minute"},
		{"another key", dpop("GET", apiURL, other.Proof("GET", apiURL, tok)), "another key"},
		{"no ath", dpop("GET", apiURL, key.Proof("GET", apiURL, "")), "ath"},
		{"ath of another token", dpop("GET", apiURL, key.Proof("GET", apiURL, "other")), "ath"},
		{"no jti", dpop("GET", apiURL, key.Proof("GET", apiURL, tok, func(c *fixture.ProofClaims) { c.JTI = "" })), "jti"},
		{"two proofs", dpop("GET", apiURL, key.Proof("GET", apiURL, tok), key.Proof("GET", apiURL, tok)), "exactly one"},
		{"not a JWS", dpop("GET", apiURL, "not.a.jws"), "compact JWS"},
		{"tampered", dpop("GET", apiURL, tamper(key.Proof("GET", apiURL, tok))), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oerr := e.srv.CheckBoundToken(ctx, tt.req, tok, key.JKT)
			if oerr == nil || oerr.Code != oauth.ErrCodeInvalidDPoPProof || !strings.Contains(oerr.Description, tt.want) {
				t.Fatalf("got %v; want invalid_dpop_proof saying %q", oerr, tt.want)
			}
		})
	}
	// A proof in the window's last second is good; the default port and
	// case of scheme and host do not matter.
	edge := func(c *fixture.ProofClaims) { c.IAT -= 60 }
	if oerr := e.srv.CheckBoundToken(ctx, dpop("GET", "https://api.example/x", key.Proof("GET", "HTTPS://API.example:443/x", tok, edge)), tok, key.JKT); oerr != nil {
		t.Errorf("a proof 60 s old, default port named: %v", oerr)
	}
}

// tamper changes the last character of a proof's payload.
func tamper(proof string) string {
	parts := strings.Split(proof, ".")
	p := []byte(parts[1])
	if p[len(p)-2] == 'A' {
		p[len(p)-2] = 'B'
	} else {
		p[len(p)-2] = 'A'
	}
	parts[1] = string(p)
	return strings.Join(parts, ".")
}

// TestDPoPRefreshStaysBound: a DPoP-bound chain is refreshed only with a
// proof, into tokens bound to the new proof's key; an application
// requiring DPoP gets no token without a proof.
func TestDPoPRefreshStaysBound(t *testing.T) {
	e := newEnv(t, oauth.Validity{})
	ctx := context.Background()
	key, next := fixture.NewDPoPKey(t, e.clock.Now), fixture.NewDPoPKey(t, e.clock.Now)
	first := e.mustToken(t, oauth.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password",
		DPoP: dpop("POST", tokenURL, key.Proof("POST", tokenURL, ""))})
	if _, oerr := e.token(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken}); oerr == nil ||
		oerr.Code != oauth.ErrCodeInvalidDPoPProof {
		t.Fatalf("refresh of a bound chain without a proof: %v; want invalid_dpop_proof", oerr)
	}
	second := e.mustToken(t, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken,
		DPoP: dpop("POST", tokenURL, next.Proof("POST", tokenURL, ""))})
	if info, err := e.srv.Validate(ctx, second.AccessToken); err != nil || second.TokenType != "DPoP" || info.JKT != next.JKT {
		t.Fatalf("refreshed token %+v bound to %q (%v); want DPoP bound to %q", second, info.JKT, err, next.JKT)
	}

	alice := fixture.User(t, e.db, "carol", "carol-password", "subscriber")
	strictKey, _ := fixture.App(t, e.db, alice, "Strict")
	if err := e.db.SetApplicationDPoP(ctx, alice.ID, strictKey.AppID, true); err != nil {
		t.Fatal(err)
	}
	req := oauth.TokenRequest{GrantType: "client_credentials", ClientID: strictKey.ConsumerKey, ClientSecret: strictKey.Secret}
	if _, oerr := e.token(t, req); oerr == nil || oerr.Code != oauth.ErrCodeInvalidDPoPProof {
		t.Fatalf("a token of an application requiring DPoP without a proof: %v", oerr)
	}
	req.DPoP = dpop("POST", tokenURL, key.Proof("POST", tokenURL, ""))
	if resp := e.mustToken(t, req); resp.TokenType != "DPoP" {
		t.Fatalf("with a proof: %+v", resp)
	}
	// The store's Generate and try-it console hold no key of the client's.
	client, err := e.db.ClientByKey(ctx, strictKey.ConsumerKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, oerr := e.srv.IssueApplicationToken(ctx, client); oerr == nil || oerr.Code != oauth.ErrCodeInvalidDPoPProof {
		t.Errorf("the store's Generate for an application requiring DPoP: %v", oerr)
	}
	if _, oerr := e.srv.IssueConsoleToken(ctx, client, nil); oerr == nil || oerr.Code != oauth.ErrCodeInvalidDPoPProof {
		t.Errorf("a console token for an application requiring DPoP: %v", oerr)
	}
}

// TestDPoPIntrospectAndRevoke: a proof sent to /introspect or /revoke
// about a bound token must be signed by its key.
func TestDPoPIntrospectAndRevoke(t *testing.T) {
	e, key, other, tok := boundToken(t)
	ctx := context.Background()
	const introspectURL, revokeURL = "https://api.example:8243/introspect", "https://api.example:8243/revoke"
	req := func(url string, p string) *oauth.TokenHintRequest {
		return &oauth.TokenHintRequest{Token: tok, ClientID: e.key.ConsumerKey, ClientSecret: e.key.Secret, DPoP: dpop("POST", url, p)}
	}
	if _, oerr := e.srv.Introspect(ctx, req(introspectURL, other.Proof("POST", introspectURL, ""))); oerr == nil ||
		oerr.Code != oauth.ErrCodeInvalidDPoPProof {
		t.Errorf("introspection with another key's proof: %v", oerr)
	}
	if got, oerr := e.srv.Introspect(ctx, req(introspectURL, key.Proof("POST", introspectURL, ""))); oerr != nil || !got.Active {
		t.Errorf("introspection with the key's proof: %+v, %v", got, oerr)
	}
	if _, oerr := e.srv.Revoke(ctx, req(revokeURL, other.Proof("POST", revokeURL, ""))); oerr == nil ||
		oerr.Code != oauth.ErrCodeInvalidDPoPProof {
		t.Errorf("revocation with another key's proof: %v", oerr)
	}
	if _, err := e.srv.Validate(ctx, tok); err != nil {
		t.Fatalf("the refused revocation revoked: %v", err)
	}
	if _, oerr := e.srv.Revoke(ctx, req(revokeURL, key.Proof("POST", revokeURL, ""))); oerr != nil {
		t.Errorf("revocation with the key's proof: %v", oerr)
	}
	if _, err := e.srv.Validate(ctx, tok); err == nil {
		t.Error("the token is still valid after its revocation")
	}
}

// TestDPoPNonce: with nonces required, a proof without the server's
// current or previous nonce gets use_dpop_nonce (RFC 9449 §8), and one
// with it is accepted, on any server sharing the key.
func TestDPoPNonce(t *testing.T) {
	e := newEnv(t, oauth.Validity{})
	e.srv.RequireDPoPNonce([]byte("shared by the nodes"))
	node2 := oauth.NewServer(e.db, oauth.Validity{}, e.clock.Now)
	node2.RequireDPoPNonce([]byte("shared by the nodes"))
	ctx := context.Background()
	key := fixture.NewDPoPKey(t, e.clock.Now)
	withNonce := func(n string) func(*fixture.ProofClaims) { return func(c *fixture.ProofClaims) { c.Nonce = n } }
	req := func(edit ...func(*fixture.ProofClaims)) *oauth.TokenRequest {
		return &oauth.TokenRequest{GrantType: "client_credentials", ClientID: e.key.ConsumerKey, ClientSecret: e.key.Secret,
			DPoP: dpop("POST", tokenURL, key.Proof("POST", tokenURL, "", edit...))}
	}
	for _, c := range []struct {
		name  string
		edit  []func(*fixture.ProofClaims)
		srv   *oauth.Server
		clock time.Duration
		ok    bool
	}{
		{"no nonce", nil, e.srv, 0, false},
		{"a made-up nonce", []func(*fixture.ProofClaims){withNonce("made-up")}, e.srv, 0, false},
		{"the nonce", []func(*fixture.ProofClaims){withNonce(e.srv.DPoPNonce())}, e.srv, 0, true},
		{"the nonce, at another node", []func(*fixture.ProofClaims){withNonce(e.srv.DPoPNonce())}, node2, 0, true},
		{"the nonce, a window later", []func(*fixture.ProofClaims){withNonce(e.srv.DPoPNonce())}, e.srv, oauth.NonceLifetime / 2, true},
		{"the nonce, two windows later", []func(*fixture.ProofClaims){withNonce(e.srv.DPoPNonce())}, e.srv, oauth.NonceLifetime, false},
	} {
		nonceBefore := c.edit
		e.clock.Advance(c.clock)
		_, oerr := c.srv.Token(ctx, req(nonceBefore...))
		switch {
		case c.ok && oerr != nil:
			t.Errorf("%s: %v", c.name, oerr)
		case !c.ok && (oerr == nil || oerr.Code != oauth.ErrCodeUseDPoPNonce):
			t.Errorf("%s: %v; want use_dpop_nonce", c.name, oerr)
		}
	}
}

// FuzzCheckProof: whatever a DPoP header holds, CheckProof answers with a
// proof or invalid_dpop_proof, never another error or a panic, and a proof
// it accepted once it refuses the second time.
func FuzzCheckProof(f *testing.F) {
	d, _ := fixture.Docs(f)
	clock := fixture.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	srv := oauth.NewServer(d, oauth.Validity{}, clock.Now)
	key := fixture.NewDPoPKey(f, clock.Now)
	good := key.Proof("GET", apiURL, "token")
	for _, seed := range []string{good, tamper(good), "a.b.c", "", strings.Repeat("A", 5000), "e30.e30.e30"} {
		f.Add(seed)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, proof string) {
		p, oerr := srv.CheckProof(ctx, dpop("GET", apiURL, proof), "token")
		switch {
		case oerr != nil && oerr.Code != oauth.ErrCodeInvalidDPoPProof:
			t.Fatalf("%q: %v", proof, oerr)
		case oerr == nil && p == nil:
			t.Fatalf("%q: neither a proof nor an error", proof)
		case oerr == nil:
			if _, again := srv.CheckProof(ctx, dpop("GET", apiURL, proof), "token"); again == nil {
				t.Fatalf("%q accepted twice", proof)
			}
		}
	})
}

// TestDPoPBoundCode: an authorization request's dpop_jkt binds its code
// (RFC 9449 §10): only a proof signed by that key redeems it, into tokens
// bound to the key; a malformed dpop_jkt is refused.
func TestDPoPBoundCode(t *testing.T) {
	f := newAuthzFixture(t)
	c := f.newApp(t, codeGrants...)
	key, other := fixture.NewDPoPKey(t, f.clock.Now), fixture.NewDPoPKey(t, f.clock.Now)
	code := f.code(t, c, "&dpop_jkt="+key.JKT)
	exchange := func(k *fixture.DPoPKey) (*oauth.TokenResponse, *oauth.Error) {
		req := &oauth.TokenRequest{GrantType: oauth.GrantAuthorizationCode, ClientID: c.ConsumerKey, ClientSecret: c.Secret, Code: code}
		if k != nil {
			req.DPoP = dpop("POST", tokenURL, k.Proof("POST", tokenURL, ""))
		}
		return f.srv.Token(context.Background(), req)
	}
	for name, k := range map[string]*fixture.DPoPKey{"without a proof": nil, "with another key's proof": other} {
		if _, oerr := exchange(k); oerr == nil || oerr.Code != oauth.ErrCodeInvalidDPoPProof {
			t.Errorf("a bound code %s: %v; want invalid_dpop_proof", name, oerr)
		}
	}
	resp, oerr := exchange(key)
	if oerr != nil || resp.TokenType != "DPoP" {
		t.Fatalf("a bound code with its key's proof: %+v, %v", resp, oerr)
	}
	if info, err := f.srv.Validate(context.Background(), resp.AccessToken); err != nil || info.JKT != key.JKT {
		t.Errorf("the token is bound to %q (%v); want %q", info.JKT, err, key.JKT)
	}
	r, oerr := oauth.ParseAuthorizeRequest("response_type=code&client_id=" + c.ConsumerKey + "&dpop_jkt=short")
	if oerr != nil {
		t.Fatal(oerr)
	}
	if _, oerr := f.srv.CheckAuthorize(context.Background(), r); oerr == nil || oerr.Code != oauth.ErrCodeInvalidRequest {
		t.Errorf("a malformed dpop_jkt: %v; want invalid_request", oerr)
	}
}
