package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/certtest"
)

// x5t is the cnf.x5t#S256 of a certificate (RFC 8705 §3.1).
func x5t(c *certtest.Cert) string {
	sum := sha256.Sum256(c.Cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// tlsClient is Go's HTTP client trusting the server's certificate and
// presenting cert in the handshake when it is not nil.
func tlsClient(t *testing.T, dataDir string, cert *certtest.Cert) *http.Client {
	t.Helper()
	serverCert, err := os.ReadFile(filepath.Join(dataDir, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverCert)
	conf := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		conf.Certificates = []tls.Certificate{cert.TLS()}
	}
	tr := &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// asksForCertificate reports whether the HTTPS listener at base asks the
// client for a certificate in the handshake.
func asksForCertificate(t *testing.T, dataDir, base string) bool {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conf := tlsClient(t, dataDir, nil).Transport.(*http.Transport).TLSClientConfig.Clone()
	asked := false
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked = true
		return &tls.Certificate{}, nil // none
	}
	conn, err := tls.Dial("tcp", u.Host, conf)
	if err != nil {
		t.Fatalf("handshake with %s: %v", u.Host, err)
	}
	conn.Close()
	return asked
}

// do sends a request and returns its status and decoded JSON body, when
// an object.
func do(t *testing.T, c *http.Client, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s %s: %v in %s", req.Method, req.URL, err, body)
		}
	}
	obj, _ := out.(map[string]any)
	return resp.StatusCode, obj
}

// postForm posts a form, with Basic client authentication when secret is
// given (else client_id goes in the body, as RFC 8705 §2 has it).
func postForm(t *testing.T, c *http.Client, endpoint, clientID, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	if secret == "" {
		form.Set("client_id", clientID)
	}
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(clientID, secret)
	}
	return do(t, c, req)
}

// TestMutualTLS runs RFC 8705 against the binary with Go's TLS client and
// certificates made here: tls_client_auth (a CA of --client-ca, a DNS
// subject), self_signed_tls_client_auth (a registered certificate) and a
// secret-authenticated client that presents a certificate all get
// certificate-bound tokens (cnf.x5t#S256), which the gateway accepts only
// on a connection presenting that certificate: not without one, not with
// another, not over plain HTTP.
func TestMutualTLS(t *testing.T) {
	dir := newDataDir(t)
	certs := t.TempDir()
	ca := certtest.NewCA(t, "Test client CA")
	pki := certtest.NewClientCert(t, ca, "client", "client.example")
	intruder := certtest.NewClientCert(t, ca, "intruder", "intruder.example") // same CA, another subject
	self := certtest.NewClientCert(t, nil, "self", "self.example")
	other := certtest.NewClientCert(t, nil, "other", "other.example") // never registered
	s := startServer(t, dir, nil, "--store-port", "0", "--https-port", "0", "--http-port", "0",
		"--client-ca", ca.PEMFile(t, certs, "ca.pem"))
	const password = "a-long-password"
	apps := map[string]keys{}
	for _, a := range []struct{ owner, flag, value string }{
		{"alice", "--tls-subject", "san_dns:client.example"},
		{"bob", "--tls-cert", self.PEMFile(t, certs, "self.pem")},
		{"carol", "", ""},
	} {
		s.admin(t, password+"\n", "user create", "--username", a.owner)
		flags := []string{"--owner", a.owner, "--name", "App"}
		if a.flag != "" {
			flags = append(flags, a.flag, a.value)
		}
		var k keys
		if err := json.Unmarshal([]byte(s.admin(t, "", "app create", flags...)), &k); err != nil {
			t.Fatal(err)
		}
		apps[a.owner] = k
		subscribe(t, dir, a.owner, "/pizzashack")
	}
	alice, bob, carol := apps["alice"].Production, apps["bob"].Production, apps["carol"].Production
	https, plain := s.urls["https"], s.urls["http"]
	clients := map[*certtest.Cert]*http.Client{nil: tlsClient(t, dir, nil)}
	for _, c := range []*certtest.Cert{pki, intruder, self, other} {
		clients[c] = tlsClient(t, dir, c)
	}
	cc := url.Values{"grant_type": {"client_credentials"}}

	// The HTTPS port of /token and the gateway asks for a certificate; the
	// store's port does not, so browsers are not bothered.
	if !asksForCertificate(t, dir, https) || asksForCertificate(t, dir, s.urls["store"]) {
		t.Errorf("certificates asked for: https %v, store %v; want only https",
			asksForCertificate(t, dir, https), asksForCertificate(t, dir, s.urls["store"]))
	}

	// The metadata names the methods and the binding (RFC 8705 §2.3, §3.3).
	req, _ := http.NewRequest("GET", https+"/.well-known/oauth-authorization-server", nil)
	status, meta := do(t, clients[nil], req)
	methods, _ := meta["token_endpoint_auth_methods_supported"].([]any)
	if status != 200 || meta["tls_client_certificate_bound_access_tokens"] != true ||
		!slices.Contains(methods, any("tls_client_auth")) || !slices.Contains(methods, any("self_signed_tls_client_auth")) {
		t.Fatalf("metadata: %d %v", status, meta)
	}

	// Who may authenticate how.
	for _, c := range []struct {
		name   string
		client *http.Client
		base   string
		key    string
		secret string
		want   int
	}{
		{"tls_client_auth, its certificate", clients[pki], https, alice.ConsumerKey, "", 200},
		{"tls_client_auth, another subject of the same CA", clients[intruder], https, alice.ConsumerKey, "", 401},
		{"tls_client_auth, a self-signed certificate", clients[other], https, alice.ConsumerKey, "", 401},
		{"tls_client_auth, no certificate", clients[nil], https, alice.ConsumerKey, "", 401},
		{"tls_client_auth, its secret instead", clients[nil], https, alice.ConsumerKey, alice.ConsumerSecret, 401},
		{"tls_client_auth, its secret beside its certificate", clients[pki], https, alice.ConsumerKey, alice.ConsumerSecret, 401},
		{"tls_client_auth, over plain HTTP", http.DefaultClient, plain, alice.ConsumerKey, "", 401},
		{"self_signed_tls_client_auth, its certificate", clients[self], https, bob.ConsumerKey, "", 200},
		{"self_signed_tls_client_auth, another self-signed certificate", clients[other], https, bob.ConsumerKey, "", 401},
		{"self_signed_tls_client_auth, a CA's certificate", clients[pki], https, bob.ConsumerKey, "", 401},
		{"secret, with a certificate", clients[other], https, carol.ConsumerKey, carol.ConsumerSecret, 200},
		{"secret, a certificate instead", clients[other], https, carol.ConsumerKey, "", 401},
	} {
		status, body := postForm(t, c.client, c.base+"/token", c.key, c.secret, url.Values{"grant_type": {"client_credentials"}})
		if status != c.want || (c.want == 401 && body["error"] != "invalid_client") {
			t.Errorf("%s: %d %v, want %d", c.name, status, body, c.want)
		}
	}

	// Each client's token is bound to the certificate it presented, and
	// only that certificate's connections can use it at the gateway.
	menu := "/pizzashack/1.0.0/menu"
	for _, c := range []struct {
		name, key, secret string
		cert              *certtest.Cert
	}{
		{"tls_client_auth", alice.ConsumerKey, "", pki},
		{"self_signed_tls_client_auth", bob.ConsumerKey, "", self},
		{"secret with a certificate", carol.ConsumerKey, carol.ConsumerSecret, other},
	} {
		status, tok := postForm(t, clients[c.cert], https+"/token", c.key, c.secret, url.Values{"grant_type": {"client_credentials"}})
		access, _ := tok["access_token"].(string)
		if status != 200 || access == "" || tok["token_type"] != "Bearer" {
			t.Fatalf("%s: token %d %v", c.name, status, tok)
		}
		status, info := postForm(t, clients[c.cert], https+"/introspect", c.key, c.secret, url.Values{"token": {access}})
		cnf, _ := info["cnf"].(map[string]any)
		if status != 200 || info["active"] != true || cnf["x5t#S256"] != x5t(c.cert) {
			t.Errorf("%s: introspection %d %v, want cnf.x5t#S256 %s", c.name, status, info, x5t(c.cert))
		}
		for _, call := range []struct {
			how    string
			client *http.Client
			base   string
			want   int
		}{
			{"with its certificate", clients[c.cert], https, 200},
			{"without a certificate", clients[nil], https, 401},
			{"with another CA certificate", clients[intruder], https, 401},
			{"with another self-signed certificate", clients[pickOther(c.cert, self, other)], https, 401},
			{"over plain HTTP", http.DefaultClient, plain, 401},
		} {
			status, body := do(t, call.client, bearer(t, "GET", call.base+menu, access, ""))
			fault, _ := body["fault"].(map[string]any)
			if status != call.want || (call.want == 401 && fault["code"] != float64(900901)) {
				t.Errorf("%s, gateway %s: %d %v, want %d", c.name, call.how, status, body, call.want)
			}
		}
		if c.cert == pki {
			// Revoked by its client, authenticated by the certificate alone
			// (RFC 7009 with RFC 8705 §2): refused at once, certificate or not.
			status, _ := postForm(t, clients[pki], https+"/revoke", c.key, "", url.Values{"token": {access}})
			if status != 200 {
				t.Fatalf("revoke: %d", status)
			}
			if status, body := do(t, clients[pki], bearer(t, "GET", https+menu, access, "")); status != 401 {
				t.Errorf("a revoked bound token: %d %v", status, body)
			}
		}
	}

	// A token of a client that presents no certificate stays a plain
	// bearer token, usable over plain HTTP as before.
	status, tok := postForm(t, http.DefaultClient, plain+"/token", carol.ConsumerKey, carol.ConsumerSecret, cc)
	access, _ := tok["access_token"].(string)
	if status != 200 {
		t.Fatalf("plain token: %d %v", status, tok)
	}
	_, info := postForm(t, http.DefaultClient, plain+"/introspect", carol.ConsumerKey, carol.ConsumerSecret, url.Values{"token": {access}})
	if info["active"] != true || info["cnf"] != nil {
		t.Errorf("plain token introspection: %v", info)
	}
	if status, body := do(t, http.DefaultClient, bearer(t, "GET", plain+menu, access, "")); status != 200 {
		t.Errorf("plain token at the gateway: %d %v", status, body)
	}

	// A refresh binds the new access token to the certificate presented
	// then: a user's password grant by the self-signed client.
	status, tok = postForm(t, clients[self], https+"/token", bob.ConsumerKey, "",
		url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {password}})
	refresh, _ := tok["refresh_token"].(string)
	if status != 200 || refresh == "" {
		t.Fatalf("password grant: %d %v", status, tok)
	}
	if status, body := postForm(t, clients[other], https+"/token", bob.ConsumerKey, "",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}); status != 401 {
		t.Errorf("refresh with an unregistered certificate: %d %v", status, body)
	}
	status, tok = postForm(t, clients[self], https+"/token", bob.ConsumerKey, "",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	access, _ = tok["access_token"].(string)
	if status != 200 || access == "" {
		t.Fatalf("refresh: %d %v", status, tok)
	}
	_, info = postForm(t, clients[self], https+"/introspect", bob.ConsumerKey, "", url.Values{"token": {access}})
	if cnf, _ := info["cnf"].(map[string]any); cnf["x5t#S256"] != x5t(self) {
		t.Errorf("refreshed token introspection: %v", info)
	}
	if status, _ := do(t, clients[nil], bearer(t, "GET", https+menu, access, "")); status != 401 {
		t.Errorf("refreshed bound token without its certificate: %d", status)
	}
	if status, _ := do(t, clients[self], bearer(t, "GET", https+menu, access, "")); status != 200 {
		t.Errorf("refreshed bound token with its certificate: %d", status)
	}

	// app tls changes a running server's mind at once: carol's keys move
	// to a self-signed certificate, then back to their secret.
	s.admin(t, "", "app tls", "--owner", "carol", "--name", "app", "--tls-cert", other.PEMFile(t, certs, "other.pem"))
	if status, body := postForm(t, clients[nil], https+"/token", carol.ConsumerKey, carol.ConsumerSecret, cc); status != 401 {
		t.Errorf("the secret after app tls --tls-cert: %d %v", status, body)
	}
	if status, body := postForm(t, clients[other], https+"/token", carol.ConsumerKey, "", cc); status != 200 {
		t.Errorf("the certificate after app tls --tls-cert: %d %v", status, body)
	}
	s.admin(t, "", "app tls", "--owner", "carol", "--name", "App", "--secret")
	if status, body := postForm(t, clients[other], https+"/token", carol.ConsumerKey, "", cc); status != 401 {
		t.Errorf("the certificate after app tls --secret: %d %v", status, body)
	}
	if status, body := postForm(t, http.DefaultClient, plain+"/token", carol.ConsumerKey, carol.ConsumerSecret, cc); status != 200 {
		t.Errorf("the secret after app tls --secret: %d %v", status, body)
	}
}

// pickOther is the one of a and b that is not c.
func pickOther(c, a, b *certtest.Cert) *certtest.Cert {
	if c == a {
		return b
	}
	return a
}

// TestMutualTLSFlags: app create's --tls-subject and --tls-cert and
// serve's --client-ca refuse what cannot work, saying why, and register
// what can.
func TestMutualTLSFlags(t *testing.T) {
	dir := newDataDir(t)
	files := t.TempDir()
	self := certtest.NewClientCert(t, nil, "self", "self.example")
	certFile := self.PEMFile(t, files, "self.pem")
	expired := certtest.New(t, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "old"}, NotAfter: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)})
	ca := certtest.NewCA(t, "Acme CA")
	notPEM := filepath.Join(files, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runOK(t, "user", "create", "--data-dir", dir, "--username", "alice", "--password", "a-long-password")
	app := []string{"app", "create", "--data-dir", dir, "--owner", "alice"}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--name", "A", "--tls-subject", "client.example"}, "KIND:VALUE"},
		{[]string{"--name", "A", "--tls-subject", "cn:client"}, "subject of one kind"},
		{[]string{"--name", "A", "--tls-subject", "san_ip:client.example"}, "not an IP address"},
		{[]string{"--name", "A", "--tls-subject", "san_dns:client.example", "--tls-cert", certFile}, "exclude each other"},
		{[]string{"--name", "A", "--tls-cert", notPEM}, "no PEM certificate"},
		// The store's page's checks (oauth.ParseClientCertificates).
		{[]string{"--name", "A", "--tls-cert", expired.PEMFile(t, files, "old.pem")}, "old.pem: certificate 1 (CN=old) expired on 2021-01-01"},
		{[]string{"--name", "A", "--tls-cert", ca.PEMFile(t, files, "ca.pem")}, "certificate 1 (CN=Acme CA) is not a TLS client certificate"},
		{[]string{"--name", "A", "--tls-cert", filepath.Join(files, "missing.pem")}, "missing.pem"},
	} {
		if got := runFails(t, append(app, tc.flags...)...); !strings.Contains(got, tc.want) {
			t.Errorf("%v: %q, want it to say %q", tc.flags, got, tc.want)
		}
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(runOK(t, append(app, "--name", "Self", "--tls-cert", certFile)...)), &out); err != nil {
		t.Fatal(err)
	}
	if out["token_endpoint_auth_method"] != "self_signed_tls_client_auth" {
		t.Errorf("app create said %v", out)
	}
	prod, _ := out["production"].(map[string]any)
	key, _ := prod["consumer_key"].(string)
	c, err := openStore(t, dir).ClientByKey(t.Context(), key)
	if err != nil || c.TLSAuth.Method != "self_signed_tls_client_auth" || len(c.TLSAuth.Certs) != 1 ||
		x5t(self) != base64.RawURLEncoding.EncodeToString(c.TLSAuth.Certs[0][:]) {
		t.Errorf("registered: %+v, %v", c, err)
	}
	if apps, _ := openStore(t, dir).ApplicationsByOwner(t.Context(), c.OwnerID); len(apps) != 1 {
		t.Errorf("the refused app creates left applications: %v", apps)
	}
	tlsCmd := []string{"app", "tls", "--data-dir", dir, "--owner", "alice"}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--name", "Self"}, "give one of"},
		{[]string{"--name", "Self", "--secret", "--tls-cert", certFile}, "give one of"},
		{[]string{"--name", "Other", "--secret"}, `no application named "Other"`},
		{[]string{"--secret"}, "--owner and --name are required"},
	} {
		if got := runFails(t, append(tlsCmd, tc.flags...)...); !strings.Contains(got, tc.want) {
			t.Errorf("app tls %v: %q, want it to say %q", tc.flags, got, tc.want)
		}
	}
	runOK(t, append(tlsCmd, "--name", "self", "--tls-subject", "subject_dn:CN=client,O=Acme")...)
	if c, err := openStore(t, dir).ClientByKey(t.Context(), key); err != nil || c.TLSAuth.Method != "tls_client_auth" ||
		c.TLSAuth.SubjectKind != "subject_dn" || c.TLSAuth.Subject != "CN=client,O=Acme" || len(c.TLSAuth.Certs) != 0 {
		t.Errorf("after app tls --tls-subject: %+v, %v", c, err)
	}

	// --mtls=false: no certificate asked for, none offered in the metadata.
	s := startServer(t, dir, nil, "--store-port", "0", "--https-port", "0", "--http-port", "0", "--mtls=false")
	if asksForCertificate(t, dir, s.urls["https"]) {
		t.Error("--mtls=false: the HTTPS port asks for a certificate")
	}
	req, _ := http.NewRequest("GET", s.urls["https"]+"/.well-known/oauth-authorization-server", nil)
	if _, meta := do(t, tlsClient(t, dir, nil), req); meta["tls_client_certificate_bound_access_tokens"] != nil ||
		slices.Contains(meta["token_endpoint_auth_methods_supported"].([]any), any("self_signed_tls_client_auth")) {
		t.Errorf("--mtls=false: metadata %v", meta)
	}
	s.stop(t)

	serve := []string{"serve", "--data-dir", dir, "--store-port", "0", "--https-port", "0", "--http-port", "0", "--metrics-addr", ""}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--client-ca", notPEM}, "no PEM certificate"},
		{[]string{"--client-ca", certFile, "--mtls=false"}, "--client-ca needs --mtls"},
	} {
		if got := runFails(t, append(serve, tc.flags...)...); !strings.Contains(got, tc.want) {
			t.Errorf("serve %v: %q, want it to say %q", tc.flags, got, tc.want)
		}
	}
}
