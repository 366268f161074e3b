package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// jwtEnv is a server whose application "Signed" of alice gets JWT access
// tokens, with an API whose backend (a test server) asks for a backend JWT.
type jwtEnv struct {
	base       string // the HTTP listener
	dataDir    string
	key        map[string]string
	assertions chan []string // X-JWT-Assertion values the backend saw, per call
}

func newJWTEnv(t *testing.T) *jwtEnv {
	t.Helper()
	e := &jwtEnv{assertions: make(chan []string, 16)}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.assertions <- r.Header.Values("X-JWT-Assertion")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(backend.Close)
	dataDir := newDataDir(t)
	runOK(t, "user", "create", "--data-dir", dataDir, "--username", "alice", "--password", "a-long-password", "--role", "subscriber,tester")
	var keys struct {
		Production map[string]string `json:"production"`
	}
	if err := json.Unmarshal([]byte(runOK(t, "app", "create", "--data-dir", dataDir, "--owner", "alice", "--name", "Signed",
		"--jwt-access-tokens")), &keys); err != nil {
		t.Fatal(err)
	}
	e.key = keys.Production
	doc := filepath.Join(dataDir, "echo.yaml")
	if err := os.WriteFile(doc, []byte(`openapi: 3.0.3
info: {title: Echo, version: v1}
servers: [{url: "`+backend.URL+`"}]
paths:
  /hello:
    get: {x-scope: read, responses: {"200": {description: ok}}}
    post: {x-scope: read, responses: {"200": {description: ok}}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	runOK(t, "api", "import", doc, "--data-dir", dataDir, "--backend-jwt")
	subscribe(t, dataDir, "alice", "/echo")
	var stop func()
	e.base, stop = startServe(t, dataDir)
	t.Cleanup(stop)
	e.dataDir = dataDir
	return e
}

// token gets a token of the grant (client_credentials or password).
func (e *jwtEnv) token(t *testing.T, form url.Values) (access string, expiresIn int64) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.base+"/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth(e.key["consumer_key"], e.key["consumer_secret"])
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	call(t, req, 200, &tok)
	if tok.TokenType != "Bearer" {
		t.Errorf("token_type %q", tok.TokenType)
	}
	return tok.AccessToken, tok.ExpiresIn
}

// discover reads the metadata's issuer and fetches its JWK Set over HTTP.
func (e *jwtEnv) discover(t *testing.T) (string, jose.JSONWebKeySet) {
	t.Helper()
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	req, _ := http.NewRequest("GET", e.base+"/.well-known/oauth-authorization-server", nil)
	call(t, req, 200, &meta)
	if meta.JWKSURI != meta.Issuer+"/.well-known/jwks.json" {
		t.Fatalf("metadata: issuer %q, jwks_uri %q", meta.Issuer, meta.JWKSURI)
	}
	resp, err := http.Get(meta.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != 200 ||
		resp.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("JWKS: %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Algorithm != "ES256" || k.Use != "sig" || k.KeyID == "" {
			t.Fatalf("JWKS key %+v: want a public ES256 signing key with a kid", k)
		}
	}
	return meta.Issuer, set
}

// verifyJWT checks a JWT's typ and signature against the set with go-jose,
// and its exp, iat and iss, and returns its claims and kid.
func verifyJWT(t *testing.T, token, typ, issuer string, set jose.JSONWebKeySet) (map[string]any, string) {
	t.Helper()
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT %q: %v", token, err)
	}
	h := parsed.Headers[0]
	if h.ExtraHeaders["typ"] != typ {
		t.Errorf("typ %v, want %s", h.ExtraHeaders["typ"], typ)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS (%d keys)", h.KeyID, len(set.Keys))
	}
	var std jwt.Claims
	var claims map[string]any
	if err := parsed.Claims(keys[0].Key, &std, &claims); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if err := std.Validate(jwt.Expected{Issuer: issuer}); err != nil || std.Expiry == nil || std.IssuedAt == nil || std.ID == "" {
		t.Errorf("claims %+v: %v; want iss %s, exp, iat and jti", std, err, issuer)
	}
	return claims, h.KeyID
}

// TestJWTAccessTokens: an application asking for JWT access tokens gets RFC
// 9068 tokens that verify with go-jose against the JWKS fetched over HTTP;
// the gateway takes them, sends the API's backend a backend JWT that
// verifies too, and refuses a revoked one on the next call; a key rotation
// keeps both the old tokens and the old key valid.
func TestJWTAccessTokens(t *testing.T) {
	e := newJWTEnv(t)
	issuer, set := e.discover(t)
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS of a new server: %d keys, want 1", len(set.Keys))
	}

	// client_credentials: the client is the subject.
	access, expiresIn := e.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
	claims, firstKid := verifyJWT(t, access, "at+jwt", issuer, set)
	if claims["client_id"] != e.key["consumer_key"] || claims["sub"] != e.key["consumer_key"] || claims["scope"] != "read" ||
		claims["aud"] != issuer {
		t.Errorf("client_credentials claims %v", claims)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); int64(exp-iat) != expiresIn {
		t.Errorf("exp-iat %v, expires_in %d", exp-iat, expiresIn)
	}
	// password: the user is.
	userToken, _ := e.token(t, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"a-long-password"}, "scope": {"read"}})
	if claims, _ := verifyJWT(t, userToken, "at+jwt", issuer, set); claims["sub"] != "alice@carbon.super" || claims["client_id"] != e.key["consumer_key"] {
		t.Errorf("password claims %v", claims)
	}

	// The gateway: a GET (sent without ReverseProxy) and a POST (through
	// it) each reach the backend with one backend JWT, the gateway's, not
	// the one the caller forged.
	forged := access
	for _, method := range []string{"GET", "POST"} {
		req := bearer(t, method, e.base+"/echo/v1/hello", userToken, "")
		req.Header.Set("X-JWT-Assertion", forged)
		var out map[string]any
		call(t, req, 200, &out)
		seen := <-e.assertions
		if len(seen) != 1 || seen[0] == forged {
			t.Fatalf("%s: the backend saw X-JWT-Assertion %q, want the gateway's alone", method, seen)
		}
		claims, _ := verifyJWT(t, seen[0], "JWT", issuer, set)
		const wso2 = "http://wso2.org/claims/"
		roles, _ := claims[wso2+"role"].([]any)
		if claims[wso2+"subscriber"] != "alice" || claims[wso2+"applicationname"] != "Signed" || claims[wso2+"keytype"] != "PRODUCTION" ||
			claims[wso2+"tier"] != "Unlimited" || claims[wso2+"enduser"] != "alice@carbon.super" || claims[wso2+"apicontext"] != "/echo" ||
			!slices.Equal(roles, []any{"subscriber", "tester"}) {
			t.Errorf("%s: backend JWT claims %v", method, claims)
		}
	}

	// Rotation: a new key, published beside the old one, which still
	// verifies the tokens it signed; the gateway still takes them.
	out := runOK(t, "keys", "rotate", "--data-dir", e.dataDir)
	if !strings.Contains(out, "retired "+firstKid) {
		t.Errorf("keys rotate: %q, want it to name %s retired", out, firstKid)
	}
	_, set = e.discover(t)
	if len(set.Keys) != 2 || set.Keys[1].KeyID != firstKid {
		t.Fatalf("JWKS after the rotation: %+v, want the new key and %s", set.Keys, firstKid)
	}
	verifyJWT(t, access, "at+jwt", issuer, set)
	var answer map[string]any
	call(t, bearer(t, "GET", e.base+"/echo/v1/hello", access, ""), 200, &answer)
	<-e.assertions

	// Revocation: refused on the very next call.
	form := url.Values{"token": {access}}
	req, _ := http.NewRequest("POST", e.base+"/revoke", strings.NewReader(form.Encode()))
	req.SetBasicAuth(e.key["consumer_key"], e.key["consumer_secret"])
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	var fault struct{ Fault struct{ Code int } }
	call(t, bearer(t, "GET", e.base+"/echo/v1/hello", access, ""), 401, &fault)
	if fault.Fault.Code != 900901 {
		t.Errorf("revoked JWT: fault %+v, want 900901", fault)
	}
	select {
	case seen := <-e.assertions:
		t.Errorf("the backend was called with a revoked token (%q)", seen)
	default:
	}
	// The other token is unaffected.
	call(t, bearer(t, "GET", e.base+"/echo/v1/hello", userToken, ""), 200, &answer)
	<-e.assertions
}
