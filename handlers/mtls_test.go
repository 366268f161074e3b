package handlers_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/certtest"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/web"
)

// mtlsEnv is a store whose OAuth server offers mutual TLS, with its /token
// on an HTTPS server that asks for client certificates, as port 8243 does.
func mtlsEnv(t *testing.T) (*storeEnv, string) {
	t.Helper()
	d := fixture.DB(t)
	if err := d.SeedSample(context.Background()); err != nil {
		t.Fatal(err)
	}
	o := oauth.NewServer(d, oauth.Validity{}, nil)
	o.MutualTLS(nil) // no --client-ca: self_signed_tls_client_auth only
	w := web.New(web.Config{}, handlers.New(o, d))
	srv := httptest.NewTLSServer(w.Store())
	t.Cleanup(srv.Close)
	api := httptest.NewUnstartedServer(w.API())
	api.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	api.StartTLS()
	t.Cleanup(api.Close)
	return &storeEnv{t: t, db: d, oauth: o, srv: srv}, api.URL
}

func pemOf(certs ...*certtest.Cert) string {
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw}))
	}
	return b.String()
}

// tokenWithCert asks tokenURL for a client_credentials token as clientID,
// presenting cert (nil: none) and secret (empty: none).
func tokenWithCert(t *testing.T, tokenURL, clientID, secret string, cert *certtest.Cert) (int, map[string]any) {
	t.Helper()
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test server's own certificate
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS()}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}}
	if secret != "" {
		form.Set("client_secret", secret)
	}
	resp, err := c.PostForm(tokenURL+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// TestClientAuthOnTheStorePage: an application's owner registers a
// subject or self-signed certificates on My Subscriptions and goes back to
// the secret, as apistore app tls does; bad certificates are refused with
// a message, others' applications are 404, and /token over TLS follows.
func TestClientAuthOnTheStorePage(t *testing.T) {
	env, tokenURL := mtlsEnv(t)
	ctx := context.Background()
	alice := env.browser()
	alice.signUp("alice", "alice-password")
	id := alice.addApplication("Shop")
	page := fmt.Sprintf("/store/subscriptions?app=%d", id)
	p := alice.submit(fmt.Sprintf("/store/subscriptions/%d/production/generate", id), url.Values{"validity": {"60"}, "grant_types": {"client_credentials"}})
	if p.status != http.StatusOK {
		t.Fatalf("generate: %d", p.status)
	}
	key, secret := shown(t, p.body, "production-consumer-key"), shown(t, p.body, "production-consumer-secret")
	mustContain(t, p.body, `data-testid="client-auth-method">client secret (client_secret_basic, client_secret_post)`,
		`data-testid="production-auth">the client secret (client_secret_basic, client_secret_post)`, "Register subject", "Register certificate")
	mustNotContain(t, p.body, "Use client secret") // already so
	tlsURL := func(method string) string { return fmt.Sprintf("/store/subscriptions/%d/tls/%s", id, method) }
	method := func() oauth.TLSAuth {
		a, err := env.db.OwnedApplication(ctx, mustUserID(t, env, "alice"), id)
		if err != nil {
			t.Fatal(err)
		}
		return a.TLSAuth
	}

	robot := certtest.NewClientCert(t, nil, "robot", "robot.example")
	expired := certtest.New(t, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "old"}, NotAfter: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)})
	ca := certtest.NewCA(t, "Acme CA")
	for _, tc := range []struct {
		name, method string
		form         url.Values
		want         string
	}{
		{"not PEM", "certificate", url.Values{"certificate": {"hello"}}, "No PEM certificate (-----BEGIN CERTIFICATE-----) found."},
		{"broken PEM", "certificate", url.Values{"certificate": {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}}, "Certificate 1 is not a valid X.509 certificate"},
		{"expired", "certificate", url.Values{"certificate": {pemOf(robot, expired)}}, "Certificate 2 (CN=old) expired on 2021-01-01 00:00:00 UTC."},
		{"a CA", "certificate", url.Values{"certificate": {pemOf(ca)}}, "Certificate 1 (CN=Acme CA) is not a TLS client certificate"},
		{"no subject", "subject", url.Values{"subject_kind": {"subject_dn"}, "subject": {" "}}, "Enter the subject the certificate names."},
		{"unknown kind", "subject", url.Values{"subject_kind": {"cn"}, "subject": {"robot"}}, "Tls_client_auth needs a subject of one kind of"},
		{"not an IP", "subject", url.Values{"subject_kind": {"san_ip"}, "subject": {"robot"}}, "&#34;robot&#34; is not an IP address."},
	} {
		p := alice.submit(tlsURL(tc.method), tc.form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, tc.want) {
			t.Errorf("%s: %d, want 422 saying %q", tc.name, p.status, tc.want)
		}
		if tc.method == "subject" && !strings.Contains(p.body, `value="`+tc.form.Get("subject_kind")+`" selected`) && tc.name != "unknown kind" {
			t.Errorf("%s: the kind typed is not kept", tc.name)
		}
		if a := method(); a.Method != "" {
			t.Fatalf("%s registered %+v", tc.name, a)
		}
	}
	if p := alice.post(tlsURL("certificate"), url.Values{"certificate": {pemOf(robot)}}); p.status != http.StatusForbidden {
		t.Errorf("without the form token: %d", p.status)
	}
	bob := env.browser()
	bob.signUp("bob", "bob-password")
	for _, m := range []string{"subject", "certificate", "secret"} {
		if p := bob.submit(tlsURL(m), url.Values{"certificate": {pemOf(robot)}, "subject_kind": {"san_dns"}, "subject": {"x"}}); p.status != http.StatusNotFound {
			t.Errorf("bob POST %s: %d", m, p.status)
		}
	}
	if p := alice.submit(tlsURL("other"), nil); p.status != http.StatusNotFound {
		t.Errorf("an unknown method: %d", p.status)
	}
	if a := method(); a.Method != "" {
		t.Fatalf("registered %+v", a)
	}

	// A subject: shown, and the secret no longer works.
	if p := alice.submit(tlsURL("subject"), url.Values{"subject_kind": {"subject_dn"}, "subject": {"CN=robot,O=Acme"}}); p.status != http.StatusSeeOther || p.location != page {
		t.Fatalf("register subject: %d to %q\n%s", p.status, p.location, p.body)
	}
	body := alice.get(page).body
	mustContain(t, body, "The keys of Shop authenticate with tls_client_auth (subject_dn CN=robot,O=Acme).",
		`data-testid="client-auth-method">tls_client_auth`, `data-testid="client-auth-subject">CN=robot,O=Acme<`,
		`data-testid="sandbox-panel"`, "Use client secret",
		// No --client-ca here: the page says the registration cannot work yet.
		`data-testid="client-auth-not-offered"`)
	if status, _ := tokenWithCert(t, tokenURL, key, secret, nil); status != http.StatusUnauthorized {
		t.Errorf("the secret after registering a subject: %d", status)
	}

	// Self-signed certificates: their subject and expiry said once, their
	// thumbprints kept; /token takes the certificate alone and binds the
	// token to it.
	other := certtest.NewClientCert(t, nil, "other", "other.example")
	p = alice.submit(tlsURL("certificate"), url.Values{"certificate": {"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n" + pemOf(robot)}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("register certificate: %d\n%s", p.status, p.body)
	}
	thumb := oauth.CertThumbprint(robot.Cert)
	body = alice.get(page).body
	mustContain(t, body, "Registered CN=robot,O=Acme, valid until "+robot.Cert.NotAfter.UTC().Format("2006-01-02 15:04:05 UTC"),
		`data-testid="client-auth-method">self_signed_tls_client_auth`, oauth.X5tS256(thumb),
		`<code>CN=robot,O=Acme</code>, valid until `+robot.Cert.NotAfter.UTC().Format("2006-01-02 15:04:05 UTC")+`, SHA-256 <code>`+thumb.String()+`</code>`,
		`data-testid="production-auth">self_signed_tls_client_auth (SHA-256 `+thumb.String()+`)`)
	mustNotContain(t, body, `data-testid="client-auth-not-offered"`)
	if status, _ := tokenWithCert(t, tokenURL, key, "", other); status != http.StatusUnauthorized {
		t.Errorf("another certificate: %d", status)
	}
	status, tok := tokenWithCert(t, tokenURL, key, "", robot)
	if status != http.StatusOK {
		t.Fatalf("the registered certificate: %d %v", status, tok)
	}
	info, err := env.oauth.Validate(ctx, tok["access_token"].(string))
	if err != nil || info.CertThumbprint != thumb {
		t.Errorf("the token is not bound to the certificate: %+v, %v", info, err)
	}

	// A certificate that expired since is marked; one registered before
	// certificates were kept shows its thumbprint alone.
	older := oauth.TLSAuth{Method: oauth.AuthSelfSignedTLS, Certs: []oauth.Hash{oauth.CertThumbprint(other.Cert)}}
	if err := env.db.SetApplicationTLSAuth(ctx, id, older); err != nil {
		t.Fatal(err)
	}
	mustContain(t, alice.get(page).body, `<dd data-testid="client-auth-cert">SHA-256 <code>`+oauth.CertThumbprint(other.Cert).String())
	if err := env.db.SetApplicationTLSAuth(ctx, id, oauth.SelfSignedTLSAuth([]*x509.Certificate{expired.Cert})); err != nil {
		t.Fatal(err)
	}
	mustContain(t, alice.get(page).body, `<code>CN=old</code>, <strong class="error">expired 2021-01-01 00:00:00 UTC</strong>`)

	// Back to the secret.
	if p := alice.submit(tlsURL("secret"), nil); p.status != http.StatusSeeOther {
		t.Fatalf("use client secret: %d", p.status)
	}
	mustContain(t, alice.get(page).body, "The keys of Shop authenticate with the client secret", `data-testid="client-auth-method">client secret`)
	if status, _ := tokenWithCert(t, tokenURL, key, secret, nil); status != http.StatusOK {
		t.Errorf("the secret again: %d", status)
	}
	events, err := env.db.AuditEvents(ctx, portal.AuditQuery{Event: portal.AuditApplicationUpdated, Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range events {
		if e.Client == "" || !strings.Contains(e.Client, key) {
			t.Errorf("event without the keys: %+v", e)
		}
		details = append(details, e.Detail)
	}
	want := []string{"application Shop: the keys authenticate with the client secret (client_secret_basic, client_secret_post)",
		"application Shop: the keys authenticate with self_signed_tls_client_auth (SHA-256 " + thumb.String() + ")",
		"application Shop: the keys authenticate with tls_client_auth (subject_dn CN=robot,O=Acme)"}
	if strings.Join(details, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit details:\n%s\nwant\n%s", strings.Join(details, "\n"), strings.Join(want, "\n"))
	}
}

func mustUserID(t *testing.T, env *storeEnv, username string) int64 {
	t.Helper()
	u, err := env.db.UserAccount(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
