package gateway_test

import (
	"encoding/json"
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestBackendJWT: an API asking for a backend JWT gets one X-JWT-Assertion
// per call, the gateway's, verified against the JWK Set, whatever the
// caller sends; the gateway signs one per token and API and signs again
// once half its lifetime has passed; another API gets none, not even the
// caller's.
func TestBackendJWT(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	keys := oauth.NewKeys(e.db, e.clock.Now)
	e.oauth.UseJWT(keys, "https://gateway.example", nil)
	signed := &portal.API{Name: "Signed", Version: "v1", Context: "/signed", ProductionURL: e.prod.URL, SandboxURL: e.sandbox.URL,
		Resources: []portal.Resource{{Method: "GET", Path: "/who"}, {Method: "POST", Path: "/who"}}, BackendJWT: true}
	token := e.publish(signed)
	const forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyb290In0."

	assertion := func(method string) string {
		t.Helper()
		r := e.call(method, "/signed/v1/who", token, nil, "X-JWT-Assertion", forged)
		if r.status != 200 {
			t.Fatalf("%s: %d %v", method, r.status, r.body)
		}
		got, _ := r.body["header"].(map[string]any)[gateway.AssertionHeader].([]any)
		if len(got) != 1 || got[0] == forged {
			t.Fatalf("%s: the backend got X-JWT-Assertion %v, want the gateway's alone", method, got)
		}
		return got[0].(string)
	}
	verify := func(s string) map[string]any {
		t.Helper()
		raw, err := keys.JWKS(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(raw, &set); err != nil {
			t.Fatal(err)
		}
		parsed, err := jwt.ParseSigned(s, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil || len(set.Key(parsed.Headers[0].KeyID)) != 1 {
			t.Fatalf("backend JWT %q: %v, or its kid is not in the set", s, err)
		}
		var claims map[string]any
		if err := parsed.Claims(set.Key(parsed.Headers[0].KeyID)[0].Key, &claims); err != nil {
			t.Fatalf("backend JWT: %v", err)
		}
		return claims
	}

	first := assertion("GET") // sent without ReverseProxy
	claims := verify(first)
	const wso2 = "http://wso2.org/claims/"
	if claims[wso2+"subscriber"] != "alice" || claims[wso2+"enduser"] != "alice@carbon.super" || claims[wso2+"keytype"] != "PRODUCTION" ||
		claims[wso2+"tier"] != "Unlimited" || claims[wso2+"applicationname"] != "app" || claims[wso2+"apicontext"] != "/signed" ||
		claims[wso2+"version"] != "v1" || claims["iss"] != "https://gateway.example" ||
		claims["exp"].(float64)-claims["iat"].(float64) != oauth.BackendJWTLifetime.Seconds() {
		t.Errorf("backend JWT claims %v", claims)
	}
	if again := assertion("POST"); again != first { // through ReverseProxy, from the cache
		t.Error("a second call within the JWT's lifetime got another one: the gateway signed again")
	}
	e.clock.Advance(oauth.BackendJWTLifetime / 2)
	renewed := assertion("GET")
	if renewed == first {
		t.Error("half the JWT's lifetime later the gateway still sends the first")
	}
	verify(renewed)

	// Another API: the caller's header is dropped, none is added.
	r := e.call("GET", "/pizzashack/1.0.0/menu", e.token(e.alice.prodKey, e.alice.prodSecret, ""), nil, "X-JWT-Assertion", forged)
	if got := r.body["header"].(map[string]any)[gateway.AssertionHeader]; r.status != 200 || got != nil {
		t.Errorf("an API without a backend JWT: %d, the backend got X-JWT-Assertion %v", r.status, got)
	}
}
