package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// TestAuthorizationResponsesNameTheIssuer: every answer of /authorize to
// the client — a code, an implicit token, an error — carries iss, the
// issuer the discovery document names, which says it does (RFC 9207).
func TestAuthorizationResponsesNameTheIssuer(t *testing.T) {
	e := newAuthzEnv(t)
	ua := e.loggedIn(t)
	code := callback(t, ua.submit(ua.get(e.config("read").AuthCodeURL("s1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
		url.Values{"decision": {"approve"}}), false)
	implicit := callback(t, ua.submit(ua.get(e.api.URL+"/authorize?response_type=token&client_id="+e.key.ConsumerKey),
		url.Values{"decision": {"approve"}}), true)
	denied := callback(t, ua.get(e.api.URL+"/authorize?response_type=id_token&state=s2&client_id="+e.key.ConsumerKey), false)
	for name, answer := range map[string]url.Values{"code": code, "implicit": implicit, "error": denied} {
		if answer.Get("iss") != e.api.URL {
			t.Errorf("%s answer %v: iss %q, want %q", name, answer, answer.Get("iss"), e.api.URL)
		}
	}
	resp, err := e.api.Client().Get(e.api.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct {
		Issuer string `json:"issuer"`
		Iss    bool   `json:"authorization_response_iss_parameter_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatal(resp.StatusCode, err)
	}
	if meta.Issuer != e.api.URL || !meta.Iss {
		t.Errorf("metadata %+v", meta)
	}
}
