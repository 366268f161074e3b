package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Client authentication methods (RFC 8414 §2, RFC 8705 §2). A key
// authenticates with its consumer secret unless its application is
// registered for one of the two certificate methods.
const (
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
	// AuthTLSClient is PKI mutual TLS (RFC 8705 §2.1): a certificate that
	// chains to a CA of --client-ca and names the registered subject.
	AuthTLSClient = "tls_client_auth"
	// AuthSelfSignedTLS is self-signed certificate mutual TLS (RFC 8705
	// §2.2): one of the application's registered certificates, compared by
	// SHA-256.
	AuthSelfSignedTLS = "self_signed_tls_client_auth"
)

// Kinds of subject a tls_client_auth registration names (RFC 8705
// §2.1.2): exactly one of them, matched exactly.
const (
	SubjectDN       = "subject_dn" // the subject's distinguished name, as x509's Name.String gives it (RFC 4514)
	SubjectSANDNS   = "san_dns"
	SubjectSANURI   = "san_uri"
	SubjectSANIP    = "san_ip"
	SubjectSANEmail = "san_email"
)

// SubjectKinds lists the kinds of subject, in display order.
var SubjectKinds = []string{SubjectDN, SubjectSANDNS, SubjectSANURI, SubjectSANIP, SubjectSANEmail}

// TLSAuth is an application's registration for client authentication by
// TLS certificate (RFC 8705 §2). The zero value: the consumer secret.
type TLSAuth struct {
	Method      string // "", AuthTLSClient or AuthSelfSignedTLS
	SubjectKind string // AuthTLSClient: one of SubjectKinds
	Subject     string // AuthTLSClient: the subject, of that kind
	Certs       []Hash // AuthSelfSignedTLS: SHA-256 of each registered certificate's DER
	// CertsPEM is AuthSelfSignedTLS's certificates themselves, for their
	// owner to see (subject, expiry); empty for registrations that kept only
	// thumbprints. Read with the application, not with a key's Client:
	// authentication needs only Certs.
	CertsPEM string
}

// Check accepts a complete registration: a known method with what it
// needs, and nothing another method would need.
func (a TLSAuth) Check() error {
	switch a.Method {
	case "":
		if a.SubjectKind != "" || a.Subject != "" || len(a.Certs) > 0 || a.CertsPEM != "" {
			return errors.New("a subject or certificates are registered only with a certificate authentication method")
		}
	case AuthTLSClient:
		if !slices.Contains(SubjectKinds, a.SubjectKind) || strings.TrimSpace(a.Subject) == "" {
			return fmt.Errorf("%s needs a subject of one kind of %s", AuthTLSClient, strings.Join(SubjectKinds, ", "))
		}
		if len(a.Certs) > 0 || a.CertsPEM != "" {
			return fmt.Errorf("%s takes a subject, not certificates", AuthTLSClient)
		}
		if a.SubjectKind == SubjectSANIP && net.ParseIP(a.Subject) == nil {
			return fmt.Errorf("%q is not an IP address", a.Subject)
		}
	case AuthSelfSignedTLS:
		if len(a.Certs) == 0 {
			return fmt.Errorf("%s needs at least one registered certificate", AuthSelfSignedTLS)
		}
		if a.SubjectKind != "" || a.Subject != "" {
			return fmt.Errorf("%s takes certificates, not a subject", AuthSelfSignedTLS)
		}
	default:
		return fmt.Errorf("unknown client authentication method %q (known: %s, %s)", a.Method, AuthTLSClient, AuthSelfSignedTLS)
	}
	return nil
}

// ParseClientCertificates reads the PEM certificates an application
// registers for self_signed_tls_client_auth (RFC 8705 §2.2), refusing any
// that could not authenticate a client at now: expired or not yet valid,
// or limited by its key usages to something other than TLS client
// authentication. The errors name the certificate and are meant for the
// person who pasted or gave it.
func ParseClientCertificates(data []byte, now time.Time) ([]*x509.Certificate, error) {
	certs, err := decodeCertificates(data)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate (-----BEGIN CERTIFICATE-----) found")
	}
	for i, c := range certs {
		if err := checkClientCertificate(c, now); err != nil {
			return nil, fmt.Errorf("certificate %d (%s) %w", i+1, c.Subject, err)
		}
	}
	return certs, nil
}

// decodeCertificates parses the PEM certificates in data, skipping other
// blocks (a private key pasted along, say).
func decodeCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d is not a valid X.509 certificate: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
}

// Certificates are the registered self-signed certificates kept in
// CertsPEM, by thumbprint, for showing; none when only thumbprints were
// kept.
func (a TLSAuth) Certificates() map[Hash]*x509.Certificate {
	certs, _ := decodeCertificates([]byte(a.CertsPEM)) // written by SelfSignedTLSAuth
	out := make(map[Hash]*x509.Certificate, len(certs))
	for _, c := range certs {
		out[CertThumbprint(c)] = c
	}
	return out
}

// checkClientCertificate refuses a certificate no TLS client could
// authenticate with at now; the error completes "certificate N (subject)".
func checkClientCertificate(c *x509.Certificate, now time.Time) error {
	const day = "2006-01-02 15:04:05 UTC"
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("expired on %s", c.NotAfter.UTC().Format(day))
	case now.Before(c.NotBefore):
		return fmt.Errorf("is not valid before %s", c.NotBefore.UTC().Format(day))
	case len(c.ExtKeyUsage) > 0 && !slices.ContainsFunc(c.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
		return u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny
	}):
		return errors.New("is not a TLS client certificate: its extended key usage does not include clientAuth")
	case c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return errors.New("is not a TLS client certificate: its key usage does not include digitalSignature")
	}
	return nil
}

// SelfSignedTLSAuth is the self_signed_tls_client_auth registration of
// certs (RFC 8705 §2.2): their thumbprints, and the certificates as PEM.
func SelfSignedTLSAuth(certs []*x509.Certificate) TLSAuth {
	a := TLSAuth{Method: AuthSelfSignedTLS}
	var b strings.Builder
	for _, c := range certs {
		a.Certs = append(a.Certs, CertThumbprint(c))
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	a.CertsPEM = b.String()
	return a
}

// CertThumbprint is the SHA-256 of a certificate's DER encoding: what a
// certificate-bound token records (RFC 8705 §3.1) and what a self-signed
// registration keeps.
func CertThumbprint(cert *x509.Certificate) Hash { return sha256.Sum256(cert.Raw) }

// X5tS256 is the base64url form of a certificate thumbprint, as the cnf
// claim's x5t#S256 member carries it (RFC 8705 §3.1).
func X5tS256(h Hash) string { return base64.RawURLEncoding.EncodeToString(h[:]) }

// JoinThumbprints writes certificate thumbprints as text, in hex separated
// by spaces: how the stores keep an application's registered certificates.
func JoinThumbprints(hs []Hash) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return strings.Join(out, " ")
}

// ParseThumbprints reads what JoinThumbprints wrote; a word that is not a
// thumbprint (never written so) is left out.
func ParseThumbprints(s string) []Hash {
	var out []Hash
	for w := range strings.FieldsSeq(s) {
		var h Hash
		if b, err := hex.DecodeString(w); err == nil && len(b) == len(h) {
			copy(h[:], b)
			out = append(out, h)
		}
	}
	return out
}

// MutualTLS says that the HTTPS ports ask clients for certificates (RFC
// 8705), for the metadata; cas are the certificate authorities that issue
// the certificates of tls_client_auth clients (§2.1): without them (nil)
// no client authenticates that way. Call it before serving.
func (s *Server) MutualTLS(cas *x509.CertPool) {
	s.mtls = true
	s.clientCAs = cas
}

// certThumbprint is the thumbprint of the leaf of a presented chain, or
// zero when none was presented: what a token issued over the connection
// is bound to.
func certThumbprint(chain []*x509.Certificate) Hash {
	if len(chain) == 0 {
		return Hash{}
	}
	return CertThumbprint(chain[0])
}

// authenticate authenticates a client by its registered method: the
// consumer secret (RFC 6749 §2.3.1), or the TLS client certificate chain
// presented on the connection, leaf first (RFC 8705 §2). A certificate
// presented beside a secret does not authenticate; it binds the tokens.
func (s *Server) authenticate(ctx context.Context, id, secret string, chain []*x509.Certificate) (*Client, *Error) {
	if id == "" || (secret == "" && len(chain) == 0) {
		return nil, ErrInvalidClient("client authentication is required")
	}
	c, err := s.store.ClientByKey(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidClient("client authentication failed")
	}
	if err != nil {
		return nil, internal(ctx, "load client", err)
	}
	switch {
	case c.TLSAuth.Method == "" && secret == "":
		return nil, ErrInvalidClient("client authentication is required")
	case c.TLSAuth.Method == "" && !c.SecretHash.Equal(HashOf(secret)):
		return nil, ErrInvalidClient("client authentication failed")
	case c.TLSAuth.Method == "":
		return c, nil
	case secret != "":
		return nil, ErrInvalidClient("this client authenticates with its TLS client certificate (" + c.TLSAuth.Method + "), not a secret")
	case len(chain) == 0:
		return nil, ErrInvalidClient("this client authenticates with its TLS client certificate (" + c.TLSAuth.Method + "): present it on an HTTPS port")
	case !s.certAuthenticates(c.TLSAuth, chain):
		return nil, ErrInvalidClient("client authentication failed: the TLS client certificate is not the one registered for this client")
	}
	return c, nil
}

// certAuthenticates reports whether a presented chain (leaf first)
// authenticates a client registered with a.
func (s *Server) certAuthenticates(a TLSAuth, chain []*x509.Certificate) bool {
	leaf := chain[0]
	switch a.Method {
	case AuthSelfSignedTLS:
		// RFC 8705 §2.2: no PKI validation; the certificate must be one
		// that was registered.
		got := CertThumbprint(leaf)
		for _, h := range a.Certs {
			if h.Equal(got) {
				return true
			}
		}
		return false
	case AuthTLSClient:
		if s.clientCAs == nil { // nil Roots would mean the system's CAs
			return false
		}
		intermediates := x509.NewCertPool()
		for _, c := range chain[1:] {
			intermediates.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: s.clientCAs, Intermediates: intermediates, CurrentTime: s.now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err == nil && subjectMatches(leaf, a.SubjectKind, a.Subject)
	}
	return false
}

// subjectMatches reports whether the certificate names the subject, of
// the kind (RFC 8705 §2.1.2).
func subjectMatches(cert *x509.Certificate, kind, subject string) bool {
	switch kind {
	case SubjectDN:
		return cert.Subject.String() == subject
	case SubjectSANDNS:
		return slices.ContainsFunc(cert.DNSNames, func(n string) bool { return strings.EqualFold(n, subject) })
	case SubjectSANURI:
		return slices.ContainsFunc(cert.URIs, func(u *url.URL) bool { return u.String() == subject })
	case SubjectSANIP:
		want := net.ParseIP(subject)
		return want != nil && slices.ContainsFunc(cert.IPAddresses, want.Equal)
	case SubjectSANEmail:
		return slices.Contains(cert.EmailAddresses, subject)
	}
	return false
}

// CertificateAuthMethods lists the certificate client authentication
// methods the server offers (RFC 8705 §2): none before MutualTLS, and
// tls_client_auth only with certificate authorities to check against.
func (s *Server) CertificateAuthMethods() []string {
	switch {
	case !s.mtls:
		return nil
	case s.clientCAs == nil:
		return []string{AuthSelfSignedTLS}
	}
	return []string{AuthTLSClient, AuthSelfSignedTLS}
}

// addMutualTLS adds what MutualTLS offers to the metadata (RFC 8705 §2.3,
// §3.3).
func (s *Server) addMutualTLS(m *Metadata) {
	if !s.mtls {
		return
	}
	methods := s.CertificateAuthMethods()
	m.TokenEndpointAuthMethods = append(slices.Clip(m.TokenEndpointAuthMethods), methods...)
	m.RevocationEndpointAuthMethods = append(slices.Clip(m.RevocationEndpointAuthMethods), methods...)
	m.IntrospectionEndpointAuthMethods = append(slices.Clip(m.IntrospectionEndpointAuthMethods), methods...)
	m.TLSClientCertificateBoundAccessTokens = true
}
