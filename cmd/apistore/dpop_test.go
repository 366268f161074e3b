package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
)

// dpopCall sends a request to target with the form (nil: none) and the
// headers (name, value pairs) and returns its status, headers and JSON
// body.
func dpopCall(t *testing.T, method, target string, form url.Values, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // ignored by a GET
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

// TestClusterDPoP runs two nodes on one PostgreSQL database requiring DPoP
// nonces: a token bound on one node works on the other with its own
// proofs, and a proof accepted by one node (at /token or the gateway) is
// refused by the other, as are proofs for another URL or method, stale or
// signed by another key; either node's nonce is good on both.
func TestClusterDPoP(t *testing.T) {
	lb := newBalancer(t)
	c := newCluster(t, 2, lb, "--dpop-nonce")
	alice := c.addMember(t, "alice", "Unlimited")
	key, other := fixture.NewDPoPKey(t, nil), fixture.NewDPoPKey(t, nil)
	// Both nodes name the public URL (the balancer's), as proofs must.
	tokenURL, menuURL := lb.apiURL+"/token", lb.apiURL+"/pizzashack/1.0.0/menu"
	basic := func(r *http.Request) string {
		r.SetBasicAuth(alice.id, alice.secret)
		return r.Header.Get("Authorization")
	}(&http.Request{Header: http.Header{}})
	form := url.Values{"grant_type": {"client_credentials"}}

	// Without a nonce, node 1 hands one out; node 2 takes it.
	status, h, body := dpopCall(t, "POST", c.node(0).urls["http"]+"/token", form, "Authorization", basic, "DPoP", key.Proof("POST", tokenURL, ""))
	nonce := h.Get("DPoP-Nonce")
	if status != http.StatusBadRequest || body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("a proof without a nonce: %d %v, nonce %q; want 400 use_dpop_nonce with a nonce", status, body, nonce)
	}
	withNonce := func(p *fixture.ProofClaims) { p.Nonce = nonce }
	proof := key.Proof("POST", tokenURL, "", withNonce)
	status, _, body = dpopCall(t, "POST", c.node(1).urls["http"]+"/token", form, "Authorization", basic, "DPoP", proof)
	if status != http.StatusOK || body["token_type"] != "DPoP" {
		t.Fatalf("a DPoP token from node 2 with node 1's nonce: %d %v", status, body)
	}
	token := body["access_token"].(string)
	if status, _, body := dpopCall(t, "POST", c.node(0).urls["http"]+"/token", form, "Authorization", basic, "DPoP", proof); status != http.StatusBadRequest ||
		body["error"] != "invalid_dpop_proof" {
		t.Errorf("node 2's token request proof replayed on node 1: %d %v", status, body)
	}

	call := func(i int, proof string) (int, string) {
		t.Helper()
		status, h, _ := dpopCall(t, "GET", c.node(i).urls["http"]+"/pizzashack/1.0.0/menu", nil, "Authorization", "DPoP "+token, "DPoP", proof)
		return status, h.Get("WWW-Authenticate")
	}
	for i := range 2 {
		if status, challenge := call(i, key.Proof("GET", menuURL, token, withNonce)); status != http.StatusOK {
			t.Fatalf("node %d, a fresh proof: %d %s", i+1, status, challenge)
		}
	}
	used := key.Proof("GET", menuURL, token, withNonce)
	if status, challenge := call(0, used); status != http.StatusOK {
		t.Fatalf("node 1: %d %s", status, challenge)
	}
	stale := func(p *fixture.ProofClaims) { p.Nonce = nonce; p.IAT -= 120 }
	for i := range 2 {
		for name, proof := range map[string]string{
			"replayed":            used,
			"for another URL":     key.Proof("GET", lb.apiURL+"/pizzashack/1.0.0/order", token, withNonce),
			"for another method":  key.Proof("POST", menuURL, token, withNonce),
			"stale":               key.Proof("GET", menuURL, token, stale),
			"signed by other key": other.Proof("GET", menuURL, token, withNonce),
		} {
			if status, challenge := call(i, proof); status != http.StatusUnauthorized || !strings.Contains(challenge, `DPoP`) ||
				!strings.Contains(challenge, `error="invalid_dpop_proof"`) {
				t.Errorf("node %d, a proof %s: %d %q; want 401 invalid_dpop_proof", i+1, name, status, challenge)
			}
		}
	}

	// Introspection on either node reports the binding.
	for i := range 2 {
		status, _, body := dpopCall(t, "POST", c.node(i).urls["http"]+"/introspect", url.Values{"token": {token}}, "Authorization", basic)
		cnf, _ := body["cnf"].(map[string]any)
		if status != http.StatusOK || body["active"] != true || body["token_type"] != "DPoP" || cnf["jkt"] != key.JKT {
			t.Errorf("introspection on node %d: %d %v; want active, DPoP, cnf.jkt %s", i+1, status, body, key.JKT)
		}
	}
}
