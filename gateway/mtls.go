package gateway

import (
	"crypto/sha256"
	"net/http"

	"github.com/apistore/apistore/oauth"
)

// certificateBinding refuses a certificate-bound token (RFC 8705 §3) on a
// call whose connection does not present that certificate: over plain
// HTTP, without a certificate, or with another one. A TLS proxy in front
// of the gateway cannot pass the certificate on, so bound tokens are for
// callers that reach its HTTPS port themselves.
func certificateBinding(r *http.Request, info *oauth.TokenInfo) *Refusal {
	if info.CertThumbprint.IsZero() {
		return nil
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return invalidToken("the access token is bound to a TLS client certificate (RFC 8705); present it on the gateway's HTTPS port")
	}
	if oauth.Hash(sha256.Sum256(r.TLS.PeerCertificates[0].Raw)) != info.CertThumbprint {
		return invalidToken("the access token is bound to another TLS client certificate than the one presented (RFC 8705)")
	}
	return nil
}
