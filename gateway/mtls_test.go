package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"testing"

	"github.com/apistore/apistore/internal/certtest"
	"github.com/apistore/apistore/oauth"
)

// TestCertificateBinding: a certificate-bound token (RFC 8705 §3) passes
// only on a connection presenting its certificate; an unbound token passes
// anywhere. Accepting a bound token allocates nothing, as the rest of the
// validation (TestValidationDoesNotAllocate).
func TestCertificateBinding(t *testing.T) {
	mine, other := certtest.NewClientCert(t, nil, "mine", "mine.example"), certtest.NewClientCert(t, nil, "other", "other.example")
	bound := &oauth.TokenInfo{Token: oauth.Token{CertThumbprint: oauth.CertThumbprint(mine.Cert)}}
	unbound := &oauth.TokenInfo{}
	over := func(certs ...*certtest.Cert) func() *tls.ConnectionState {
		return func() *tls.ConnectionState {
			cs := &tls.ConnectionState{}
			for _, c := range certs {
				cs.PeerCertificates = append(cs.PeerCertificates, c.Cert)
			}
			return cs
		}
	}
	for _, tc := range []struct {
		name string
		info *oauth.TokenInfo
		conn func() *tls.ConnectionState // nil: plain HTTP
		ok   bool
	}{
		{"bound, its certificate", bound, over(mine), true},
		{"bound, its certificate with a chain", bound, over(mine, other), true},
		{"bound, another certificate", bound, over(other), false},
		{"bound, another certificate first", bound, over(other, mine), false},
		{"bound, no certificate", bound, over(), false},
		{"bound, plain HTTP", bound, nil, false},
		{"unbound, a certificate", unbound, over(other), true},
		{"unbound, plain HTTP", unbound, nil, true},
	} {
		r := httptest.NewRequest("GET", "/api/1/x", nil)
		if tc.conn != nil {
			r.TLS = tc.conn()
		}
		refusal := certificateBinding(r, tc.info)
		if (refusal == nil) != tc.ok || (refusal != nil && (refusal.Status != 401 || refusal.BearerError != "invalid_token")) {
			t.Errorf("%s: %+v, want ok=%v", tc.name, refusal, tc.ok)
		}
	}
	r := httptest.NewRequest("GET", "/api/1/x", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{mine.Cert}}
	if allocs := testing.AllocsPerRun(1000, func() {
		if certificateBinding(r, bound) != nil {
			t.Fatal("refused")
		}
	}); allocs != 0 {
		t.Errorf("accepting a bound token allocates %.1f times, want 0", allocs)
	}
}
