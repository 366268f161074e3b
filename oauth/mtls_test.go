package oauth_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/certtest"
	"github.com/apistore/apistore/oauth"
)

// TestMutualTLSClientAuthentication: a key authenticates by its
// application's registered method (RFC 8705 §2) and no other, and every
// token issued over a connection presenting a certificate is bound to it
// (§3), as introspection shows.
func TestMutualTLSClientAuthentication(t *testing.T) {
	ca, otherCA := certtest.NewCA(t, "CA"), certtest.NewCA(t, "Other CA")
	pki := certtest.NewClientCert(t, ca, "client", "client.example")
	sameNameOtherCA := certtest.NewClientCert(t, otherCA, "client", "client.example")
	self, other := certtest.NewClientCert(t, nil, "self", "self.example"), certtest.NewClientCert(t, nil, "other", "other.example")
	chain := func(c *certtest.Cert) []*x509.Certificate { return []*x509.Certificate{c.Cert} }
	cas := x509.NewCertPool()
	cas.AddCert(ca.Cert)

	uri, _ := url.Parse("spiffe://acme/client")
	byURI := certtest.NewClientCert(t, ca, "uri", "uri.example")
	byURI.Cert.URIs = []*url.URL{uri} // matched as parsed; the signature is not checked again

	tests := []struct {
		name   string
		reg    oauth.TLSAuth
		cas    bool // --client-ca given
		secret bool
		chain  []*x509.Certificate
		ok     bool
	}{
		{"secret", oauth.TLSAuth{}, true, true, nil, true},
		{"secret and a certificate", oauth.TLSAuth{}, true, true, chain(other), true},
		{"a certificate for a secret", oauth.TLSAuth{}, true, false, chain(other), false},
		{"tls_client_auth, dns", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANDNS, Subject: "CLIENT.example"}, true, false, chain(pki), true},
		{"tls_client_auth, dn", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectDN, Subject: "CN=client,O=Acme"}, true, false, chain(pki), true},
		{"tls_client_auth, dn of another", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectDN, Subject: "CN=other,O=Acme"}, true, false, chain(pki), false},
		{"tls_client_auth, the dn as a dns name", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANDNS, Subject: "CN=client,O=Acme"}, true, false, chain(pki), false},
		{"tls_client_auth, another CA", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANDNS, Subject: "client.example"}, true, false, chain(sameNameOtherCA), false},
		{"tls_client_auth, no --client-ca", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANDNS, Subject: "client.example"}, false, false, chain(pki), false},
		{"tls_client_auth, self-signed", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANDNS, Subject: "self.example"}, true, false, chain(self), false},
		{"tls_client_auth, the secret", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANDNS, Subject: "client.example"}, true, true, nil, false},
		{"tls_client_auth, the secret and the certificate", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANDNS, Subject: "client.example"}, true, true, chain(pki), false},
		{"tls_client_auth, no certificate", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANDNS, Subject: "client.example"}, true, false, nil, false},
		{"tls_client_auth, uri", oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANURI, Subject: "spiffe://acme/client"}, true, false, chain(byURI), true},
		{"self_signed, registered", oauth.TLSAuth{Method: oauth.AuthSelfSignedTLS, Certs: []oauth.Hash{oauth.CertThumbprint(other.Cert), oauth.CertThumbprint(self.Cert)}}, true, false, chain(self), true},
		{"self_signed, not registered", oauth.TLSAuth{Method: oauth.AuthSelfSignedTLS, Certs: []oauth.Hash{oauth.CertThumbprint(self.Cert)}}, true, false, chain(other), false},
		{"self_signed, a CA's certificate", oauth.TLSAuth{Method: oauth.AuthSelfSignedTLS, Certs: []oauth.Hash{oauth.CertThumbprint(self.Cert)}}, true, false, chain(pki), false},
		{"self_signed, the secret", oauth.TLSAuth{Method: oauth.AuthSelfSignedTLS, Certs: []oauth.Hash{oauth.CertThumbprint(self.Cert)}}, true, true, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.reg.Check(); err != nil {
				t.Fatalf("registration: %v", err)
			}
			e := newEnv(t, oauth.Validity{})
			if tc.cas {
				e.srv.MutualTLS(cas)
			} else {
				e.srv.MutualTLS(nil)
			}
			ctx := context.Background()
			if err := e.db.SetApplicationTLSAuth(ctx, e.key.AppID, tc.reg); err != nil {
				t.Fatal(err)
			}
			r := oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, ClientID: e.key.ConsumerKey, ClientCerts: tc.chain}
			if tc.secret {
				r.ClientSecret = e.key.Secret
			}
			resp, oerr := e.srv.Token(ctx, &r)
			if !tc.ok {
				if oerr == nil || oerr.Code != "invalid_client" {
					t.Fatalf("token: %+v, %v; want invalid_client", resp, oerr)
				}
				return
			}
			if oerr != nil {
				t.Fatalf("token: %v", oerr)
			}
			info, oerr := e.srv.Introspect(ctx, &oauth.TokenHintRequest{Token: resp.AccessToken, ClientID: r.ClientID,
				ClientSecret: r.ClientSecret, ClientCerts: r.ClientCerts})
			if oerr != nil || !info.Active {
				t.Fatalf("introspect: %+v, %v", info, oerr)
			}
			switch {
			case len(tc.chain) == 0 && info.Cnf != nil:
				t.Errorf("a token issued without a certificate is bound: %+v", info.Cnf)
			case len(tc.chain) > 0 && (info.Cnf == nil || info.Cnf.X5tS256 != oauth.X5tS256(oauth.CertThumbprint(tc.chain[0]))):
				t.Errorf("cnf %+v, want the presented certificate's x5t#S256", info.Cnf)
			}
		})
	}
}

// TestTLSAuthCheck: a registration names what its method needs, nothing
// else.
func TestTLSAuthCheck(t *testing.T) {
	h := []oauth.Hash{oauth.HashOf("cert")}
	for _, tc := range []struct {
		reg oauth.TLSAuth
		ok  bool
	}{
		{oauth.TLSAuth{}, true},
		{oauth.TLSAuth{Subject: "x"}, false},
		{oauth.TLSAuth{Certs: h}, false},
		{oauth.TLSAuth{Method: "private_key_jwt"}, false},
		{oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANIP, Subject: "192.0.2.1"}, true},
		{oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectSANIP, Subject: "client.example"}, false},
		{oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: "cn", Subject: "client"}, false},
		{oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectDN, Subject: " "}, false},
		{oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectDN, Subject: "CN=a", Certs: h}, false},
		{oauth.TLSAuth{Method: oauth.AuthSelfSignedTLS}, false},
		{oauth.TLSAuth{Method: oauth.AuthSelfSignedTLS, Certs: h}, true},
		{oauth.TLSAuth{Method: oauth.AuthSelfSignedTLS, Certs: h, SubjectKind: oauth.SubjectDN, Subject: "CN=a"}, false},
	} {
		if err := tc.reg.Check(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.reg, err, tc.ok)
		}
	}
}

// TestMutualTLSMetadata: the methods and the binding are advertised when
// the HTTPS port asks for certificates, tls_client_auth only with CAs.
func TestMutualTLSMetadata(t *testing.T) {
	e := newEnv(t, oauth.Validity{})
	m := e.srv.Metadata("https://as.example", nil)
	if m.TLSClientCertificateBoundAccessTokens || len(m.TokenEndpointAuthMethods) != 2 {
		t.Errorf("without mTLS: %+v", m)
	}
	e.srv.MutualTLS(nil)
	m = e.srv.Metadata("https://as.example", nil)
	if !m.TLSClientCertificateBoundAccessTokens || m.TokenEndpointAuthMethods[len(m.TokenEndpointAuthMethods)-1] != oauth.AuthSelfSignedTLS {
		t.Errorf("self-signed only: %+v", m)
	}
	for _, methods := range [][]string{m.TokenEndpointAuthMethods, m.IntrospectionEndpointAuthMethods, m.RevocationEndpointAuthMethods} {
		for _, x := range methods {
			if x == oauth.AuthTLSClient {
				t.Errorf("tls_client_auth offered without CAs: %v", methods)
			}
		}
	}
	e.srv.MutualTLS(x509.NewCertPool())
	m = e.srv.Metadata("https://as.example", nil)
	if got := m.TokenEndpointAuthMethods; len(got) != 4 || got[2] != oauth.AuthTLSClient {
		t.Errorf("with CAs: %v", got)
	}
}

// TestMutualTLSRevoke: a certificate-authenticated client revokes its
// tokens with its certificate alone (RFC 7009, RFC 8705 §2); another
// certificate, or none, does not.
func TestMutualTLSRevoke(t *testing.T) {
	e := newEnv(t, oauth.Validity{})
	e.srv.MutualTLS(nil)
	ctx := context.Background()
	self, other := certtest.NewClientCert(t, nil, "self", "self.example"), certtest.NewClientCert(t, nil, "other", "other.example")
	reg := oauth.TLSAuth{Method: oauth.AuthSelfSignedTLS, Certs: []oauth.Hash{oauth.CertThumbprint(self.Cert)}}
	if err := e.db.SetApplicationTLSAuth(ctx, e.key.AppID, reg); err != nil {
		t.Fatal(err)
	}
	id := e.key.ConsumerKey
	resp, oerr := e.srv.Token(ctx, &oauth.TokenRequest{GrantType: oauth.GrantClientCredentials, ClientID: id,
		ClientCerts: []*x509.Certificate{self.Cert}})
	if oerr != nil {
		t.Fatal(oerr)
	}
	for _, tc := range []struct {
		name   string
		chain  []*x509.Certificate
		secret string
	}{
		{"another certificate", []*x509.Certificate{other.Cert}, ""},
		{"no certificate", nil, ""},
		{"the secret", nil, e.key.Secret},
	} {
		if rev, oerr := e.srv.Revoke(ctx, &oauth.TokenHintRequest{Token: resp.AccessToken, ClientID: id, ClientSecret: tc.secret,
			ClientCerts: tc.chain}); oerr == nil || oerr.Code != "invalid_client" {
			t.Errorf("%s: %+v, %v; want invalid_client", tc.name, rev, oerr)
		}
	}
	if info, err := e.srv.Validate(ctx, resp.AccessToken); err != nil || info.CertThumbprint != oauth.CertThumbprint(self.Cert) {
		t.Fatalf("after refused revocations: %+v, %v", info, err)
	}
	rev, oerr := e.srv.Revoke(ctx, &oauth.TokenHintRequest{Token: resp.AccessToken, ClientID: id, ClientCerts: []*x509.Certificate{self.Cert}})
	if oerr != nil || rev == nil {
		t.Fatalf("revoke with the certificate: %+v, %v", rev, oerr)
	}
	if _, err := e.srv.Validate(ctx, resp.AccessToken); err == nil {
		t.Error("the token is still valid after its revocation")
	}
}

// TestParseClientCertificates: what app tls and the store's page accept as
// self-signed client certificates (RFC 8705 §2.2), and what the
// registration keeps of them.
func TestParseClientCertificates(t *testing.T) {
	now := time.Now()
	client := certtest.NewClientCert(t, nil, "robot", "robot.example")
	plain := certtest.New(t, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "plain"}}) // no key usages: any use
	server := certtest.New(t, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "server"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	future := certtest.New(t, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "future"}, NotBefore: now.Add(time.Hour)})
	encode := func(certs ...*certtest.Cert) string {
		var b strings.Builder
		for _, c := range certs {
			b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw}))
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, pem, err string
		n              int
	}{
		{"a client certificate and a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" + encode(client), "", 1},
		{"two", encode(client, plain), "", 2},
		{"nothing", "", "no PEM certificate", 0},
		{"a server certificate", encode(client, server), "certificate 2 (CN=server) is not a TLS client certificate: its extended key usage", 0},
		{"not yet valid", encode(future), "certificate 1 (CN=future) is not valid before", 0},
	} {
		certs, err := oauth.ParseClientCertificates([]byte(tc.pem), now)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || len(certs) != tc.n {
			t.Fatalf("%s: %d certificates, %v", tc.name, len(certs), err)
		}
		a := oauth.SelfSignedTLSAuth(certs)
		kept := a.Certificates()
		if err := a.Check(); err != nil || len(a.Certs) != tc.n || len(kept) != tc.n || strings.Contains(a.CertsPEM, "PRIVATE KEY") {
			t.Errorf("%s: registration %+v (%v)", tc.name, a, err)
		}
		for _, h := range a.Certs {
			if c := kept[h]; c == nil || oauth.CertThumbprint(c) != h {
				t.Errorf("%s: certificate %s not kept", tc.name, h)
			}
		}
	}
}
