package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// dpopToken gets a DPoP-bound application token of alice's at /token.
func (e *env) dpopToken(key *fixture.DPoPKey, scope string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, _ := http.NewRequest("POST", e.api.URL+"/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth(e.alice.prodKey, e.alice.prodSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", key.Proof("POST", e.api.URL+"/token", ""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr oauth.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 || tr.TokenType != "DPoP" {
		e.t.Fatalf("DPoP token request: %d %+v %v", resp.StatusCode, tr, err)
	}
	return tr.AccessToken
}

// TestGatewayDPoP: the gateway serves a DPoP-bound token only as
// Authorization: DPoP with a fresh proof of the call signed by its key
// (RFC 9449 §7); every other way is refused with a DPoP challenge.
func TestGatewayDPoP(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	key, other := fixture.NewDPoPKey(t, e.clock.Now), fixture.NewDPoPKey(t, e.clock.Now)
	tok := e.dpopToken(key, "")
	menu := e.api.URL + "/pizzashack/1.0.0/menu"
	good := key.Proof("GET", menu, tok)
	if r := e.call("GET", "/pizzashack/1.0.0/menu", "", nil, "Authorization", "DPoP "+tok, "DPoP", good); r.status != 200 {
		t.Fatalf("a good proof: %d %v", r.status, r.fault)
	}
	stale := func(c *fixture.ProofClaims) { c.IAT -= 61 }
	tests := []struct {
		name    string
		headers []string
		error   string // of the DPoP challenge
	}{
		{"replayed", []string{"Authorization", "DPoP " + tok, "DPoP", good}, "invalid_dpop_proof"},
		{"for another URL", []string{"Authorization", "DPoP " + tok, "DPoP", key.Proof("GET", e.api.URL+"/pizzashack/1.0.0/files/a", tok)}, "invalid_dpop_proof"},
		{"for another method", []string{"Authorization", "DPoP " + tok, "DPoP", key.Proof("POST", menu, tok)}, "invalid_dpop_proof"},
		{"stale", []string{"Authorization", "DPoP " + tok, "DPoP", key.Proof("GET", menu, tok, stale)}, "invalid_dpop_proof"},
		{"signed by another key", []string{"Authorization", "DPoP " + tok, "DPoP", other.Proof("GET", menu, tok)}, "invalid_dpop_proof"},
		{"without a proof", []string{"Authorization", "DPoP " + tok}, "invalid_dpop_proof"},
		{"as a bearer token", []string{"Authorization", "Bearer " + tok, "DPoP", key.Proof("GET", menu, tok)}, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call("GET", "/pizzashack/1.0.0/menu", "", nil, tt.headers...)
			if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.challenge, "DPoP ") ||
				!strings.Contains(r.challenge, `error="`+tt.error+`"`) || r.code() != gateway.CodeInvalidCredentials {
				t.Errorf("got %d, challenge %q, fault %v; want 401 with a DPoP challenge, error %s", r.status, r.challenge, r.fault, tt.error)
			}
		})
	}
	// Refused for its scope, a bound token gets a DPoP challenge too.
	order := e.api.URL + "/pizzashack/1.0.0/order"
	if r := e.call("POST", "/pizzashack/1.0.0/order", "", nil, "Authorization", "DPoP "+tok, "DPoP", key.Proof("POST", order, tok)); r.status != http.StatusForbidden ||
		!strings.HasPrefix(r.challenge, "DPoP ") || !strings.Contains(r.challenge, `error="insufficient_scope"`) {
		t.Errorf("a bound token lacking the scope: %d, challenge %q; want 403 with a DPoP insufficient_scope challenge", r.status, r.challenge)
	}
	bearer := e.token(e.alice.prodKey, e.alice.prodSecret, "")
	if r := e.call("GET", "/pizzashack/1.0.0/menu", "", nil, "Authorization", "DPoP "+bearer, "DPoP", key.Proof("GET", menu, bearer)); r.status != 401 {
		t.Errorf("a bearer token claiming the DPoP scheme: %d", r.status)
	}
	if r := e.call("GET", "/pizzashack/1.0.0/menu", bearer, nil); r.status != 200 {
		t.Errorf("a bearer token: %d", r.status)
	}
	// Revocation ends a bound token as any other, at once.
	if err := e.db.RevokeApplicationTokens(e.ctx, e.alice.prodKeyID); err != nil {
		t.Fatal(err)
	}
	if r := e.call("GET", "/pizzashack/1.0.0/menu", "", nil, "Authorization", "DPoP "+tok, "DPoP", key.Proof("GET", menu, tok)); r.status != 401 {
		t.Errorf("a revoked bound token: %d", r.status)
	}
}
