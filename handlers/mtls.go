package handlers

import (
	"crypto/x509"
	"net/http"
)

// clientCerts is the certificate chain the client presented in the TLS
// handshake, leaf first (RFC 8705), or nil: none, or not over TLS. The
// HTTPS ports ask for one without checking it; the oauth package checks it
// against the client's registration.
func clientCerts(req *http.Request) []*x509.Certificate {
	if req.TLS == nil {
		return nil
	}
	return req.TLS.PeerCertificates
}
