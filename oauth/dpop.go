package oauth

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DPoP (RFC 9449): a client proves, with a signed proof JWT on every
// request, that it holds the private key its tokens are bound to, so a
// stolen token is worthless without the key. Tokens issued with a proof are
// bound to the proof key's SHA-256 JWK thumbprint (RFC 7638), reported as
// cnf.jkt by introspection; the gateway then accepts them only with a fresh
// proof signed by that key. Proofs are verified with go-jose; their jti are
// kept by the store (ProofStore), which every node shares, so a proof is
// accepted once in the whole cluster.

// Error codes of RFC 9449 §5 and §8.
const (
	ErrCodeInvalidDPoPProof = "invalid_dpop_proof"
	ErrCodeUseDPoPNonce     = "use_dpop_nonce"
)

// TokenTypeDPoP is the token_type of a DPoP-bound access token (RFC 9449 §5).
const TokenTypeDPoP = "DPoP"

// DPoPAlgorithms are the proof signature algorithms accepted, as listed in
// the metadata's dpop_signing_alg_values_supported (RFC 9449 §5.1).
// Symmetric algorithms are never accepted (§4.2).
var DPoPAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	jose.RS256, jose.PS256}

// DPoPAlgorithmNames are DPoPAlgorithms as strings.
func DPoPAlgorithmNames() []string {
	names := make([]string, len(DPoPAlgorithms))
	for i, a := range DPoPAlgorithms {
		names[i] = string(a)
	}
	return names
}

// ProofWindow is how far a proof's iat may lie from the server's clock,
// either way (RFC 9449 §11.1): a proof is accepted only within it, and its
// jti is kept for as long.
const ProofWindow = time.Minute

// jktPattern is a SHA-256 JWK thumbprint in base64url without padding.
var jktPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// maxProofBytes bounds a DPoP header: an RSA-4096 key and the claims fit
// well within it.
const maxProofBytes = 4096

// ProofStore keeps the proofs already accepted (RFC 9449 §11.1), for every
// node of a cluster.
type ProofStore interface {
	// UseProof records a proof by key until expires, and reports whether
	// it was new; false means it was recorded already: a replay.
	UseProof(ctx context.Context, key Hash, expires time.Time) (bool, error)
}

// DPoPRequest is what a proof is checked against: the request's DPoP
// headers (RFC 9449 §4.1: exactly one when present), method, and URL as
// the server is reached (scheme://host[:port]/path, no query or fragment).
type DPoPRequest struct {
	Proofs []string
	Method string
	URL    string
}

// Present reports whether the request carries a proof.
func (r *DPoPRequest) Present() bool { return r != nil && len(r.Proofs) > 0 }

// DPoPProof is a verified proof.
type DPoPProof struct {
	JKT string // the key's SHA-256 JWK thumbprint, base64url (RFC 7638)
	JTI string
}

// ErrInvalidDPoPProof is a proof that fails a check of RFC 9449 §4.3; it
// is sent with 400 at the token endpoint (§5) and 401 at a resource (§7.1).
func ErrInvalidDPoPProof(description string) *Error {
	return newError(ErrCodeInvalidDPoPProof, http.StatusBadRequest, "DPoP proof: "+description)
}

// errUseDPoPNonce asks the client to sign its proof again with the nonce
// given in the DPoP-Nonce header (RFC 9449 §8).
func errUseDPoPNonce() *Error {
	return newError(ErrCodeUseDPoPNonce, http.StatusBadRequest, "the DPoP proof must carry the nonce of the DPoP-Nonce header")
}

// errDPoPRequired refuses a token without a proof to an application that
// requires DPoP: the store's Generate and console, which hold no key of
// the client's, cannot issue one either.
func errDPoPRequired() *Error {
	return ErrInvalidDPoPProof("this application requires DPoP: get its tokens at /token with a DPoP header (RFC 9449)")
}

// proofClaims are a proof's claims (RFC 9449 §4.2).
type proofClaims struct {
	JTI   string      `json:"jti"`
	HTM   string      `json:"htm"`
	HTU   string      `json:"htu"`
	IAT   json.Number `json:"iat"`
	ATH   string      `json:"ath"`
	Nonce string      `json:"nonce"`
}

// CheckProof verifies a request's DPoP proof (RFC 9449 §4.3): one proof,
// of type dpop+jwt, signed with an accepted asymmetric algorithm by the
// public key in its jwk header, for this method and URL, issued within
// ProofWindow, with the server's nonce when nonces are required, bound to
// accessToken by ath when one is given (§7.1), and never seen before by
// any node. A request without a proof gives (nil, nil).
func (s *Server) CheckProof(ctx context.Context, r *DPoPRequest, accessToken string) (*DPoPProof, *Error) {
	if !r.Present() {
		return nil, nil
	}
	if s.proofs == nil {
		return nil, ErrInvalidDPoPProof("this server does not accept DPoP proofs")
	}
	if len(r.Proofs) > 1 {
		return nil, ErrInvalidDPoPProof("send exactly one DPoP header")
	}
	raw := r.Proofs[0]
	if len(raw) > maxProofBytes {
		return nil, ErrInvalidDPoPProof("the proof is larger than 4 KiB")
	}
	jws, err := jose.ParseSigned(raw, DPoPAlgorithms)
	if err != nil {
		return nil, ErrInvalidDPoPProof("not a compact JWS signed with one of " + strings.Join(DPoPAlgorithmNames(), ", "))
	}
	if len(jws.Signatures) != 1 {
		return nil, ErrInvalidDPoPProof("the proof must have exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return nil, ErrInvalidDPoPProof(`the typ header must be "dpop+jwt"`)
	}
	key := h.JSONWebKey
	if key == nil || !key.IsPublic() || !key.Valid() {
		return nil, ErrInvalidDPoPProof("the jwk header must hold the public key that signed the proof")
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, ErrInvalidDPoPProof("the signature does not verify with the key of the jwk header")
	}
	var c proofClaims
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, ErrInvalidDPoPProof("the claims are not a JSON object")
	}
	now := s.now()
	iat, err := c.IAT.Int64()
	switch {
	case c.JTI == "" || len(c.JTI) > 512:
		return nil, ErrInvalidDPoPProof("the jti claim is missing or longer than 512 bytes")
	case c.HTM != r.Method:
		return nil, ErrInvalidDPoPProof("the htm claim is not this request's method (" + r.Method + ")")
	case !sameHTU(c.HTU, r.URL):
		return nil, ErrInvalidDPoPProof("the htu claim is not this request's URL (" + r.URL + ")")
	case err != nil:
		return nil, ErrInvalidDPoPProof("the iat claim is missing or not a whole number")
	case now.Sub(time.Unix(iat, 0)).Abs() > ProofWindow:
		return nil, ErrInvalidDPoPProof("the proof was issued more than a minute from the server's time; sign a fresh one")
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if subtle.ConstantTimeCompare([]byte(c.ATH), []byte(want)) != 1 {
			return nil, ErrInvalidDPoPProof("the ath claim is not the hash of this access token")
		}
	}
	if s.nonceKey != nil && !s.validNonce(c.Nonce, now) {
		return nil, errUseDPoPNonce()
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, ErrInvalidDPoPProof("the jwk header has no thumbprint")
	}
	p := &DPoPProof{JKT: base64.RawURLEncoding.EncodeToString(tp), JTI: c.JTI}
	// The jti is the client's; keyed with the key's thumbprint, one client
	// cannot spend another's.
	fresh, err := s.proofs.UseProof(ctx, HashOf(p.JKT+" "+c.JTI), time.Unix(iat, 0).Add(ProofWindow+time.Second))
	if err != nil {
		return nil, internal(ctx, "record DPoP proof", err)
	}
	if !fresh {
		return nil, ErrInvalidDPoPProof("this proof was used already; sign a new one (with a new jti) for every request")
	}
	return p, nil
}

// sameHTU compares a proof's htu with the request's URL (RFC 9449 §4.3):
// scheme and host case-insensitively, a default port as none, the path
// exactly; the htu's query and fragment are ignored.
func sameHTU(htu, want string) bool {
	a, err1 := url.Parse(htu)
	b, err2 := url.Parse(want)
	if err1 != nil || err2 != nil || a.Host == "" {
		return false
	}
	return normalOrigin(a) == normalOrigin(b) && a.EscapedPath() == b.EscapedPath()
}

// normalOrigin is scheme://host[:port] in lower case, without the
// scheme's default port.
func normalOrigin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// NonceLifetime is how long a DPoP nonce is accepted: nonces are minted per
// half of it, and the current and previous ones are valid.
const NonceLifetime = 2 * time.Minute

// RequireDPoPNonce makes every proof carry a nonce the server gave (RFC
// 9449 §8, §9) in a DPoP-Nonce header. Nonces are minted without state
// from key, which every node of a cluster must share, and a window of
// time. Call it before serving.
func (s *Server) RequireDPoPNonce(key []byte) {
	s.nonceKey = append([]byte(nil), key...)
}

// DPoPNonce is the nonce to hand out now, or "" when nonces are not
// required.
func (s *Server) DPoPNonce() string {
	if s.nonceKey == nil {
		return ""
	}
	return s.nonceFor(s.now().Unix() / int64(NonceLifetime/2/time.Second))
}

// nonceFor is the nonce of a window: its number and a MAC of it.
func (s *Server) nonceFor(window int64) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(window))
	m := hmac.New(sha256.New, s.nonceKey)
	m.Write([]byte("apistore dpop nonce"))
	m.Write(b[:8])
	copy(b[8:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validNonce reports whether nonce is the current window's or the
// previous one's.
func (s *Server) validNonce(nonce string, now time.Time) bool {
	window := now.Unix() / int64(NonceLifetime/2/time.Second)
	for _, w := range []int64{window, window - 1} {
		if hmac.Equal([]byte(nonce), []byte(s.nonceFor(w))) {
			return true
		}
	}
	return false
}

// bindingProof checks a request's proof for a token bound to jkt (an
// empty jkt: not bound) at the introspection and revocation endpoints: a
// proof, when sent, must be valid and signed by that key.
func (s *Server) bindingProof(ctx context.Context, r *DPoPRequest, jkt string) *Error {
	if !r.Present() {
		return nil
	}
	p, oerr := s.CheckProof(ctx, r, "")
	if oerr != nil {
		return oerr
	}
	if jkt != "" && p.JKT != jkt {
		return ErrInvalidDPoPProof("the proof is signed by another key than the token is bound to")
	}
	return nil
}

// CheckBoundToken checks the proof of a call presenting accessToken, bound
// to jkt (empty: a bearer token), at a resource (RFC 9449 §7): a bound
// token needs a proof signed by its key, with the token's hash as ath.
func (s *Server) CheckBoundToken(ctx context.Context, r *DPoPRequest, accessToken, jkt string) *Error {
	if jkt == "" {
		return nil
	}
	if !r.Present() {
		return ErrInvalidDPoPProof("this access token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof")
	}
	p, oerr := s.CheckProof(ctx, r, accessToken)
	if oerr != nil {
		return oerr
	}
	if p.JKT != jkt {
		return ErrInvalidDPoPProof("the proof is signed by another key than the access token is bound to")
	}
	return nil
}

// proofKeyCtx is the context key of the thumbprint a token request's proof
// was signed with: the tokens issued for the request are bound to it.
type proofKeyCtx struct{}

// bindToProofKey binds a token being issued to the key of the request's
// proof, if it had one (RFC 9449 §5): token_type DPoP, cnf.jkt.
func bindToProofKey(ctx context.Context, t *Token, resp *TokenResponse) {
	if jkt, _ := ctx.Value(proofKeyCtx{}).(string); jkt != "" {
		t.JKT = jkt
		resp.TokenType = TokenTypeDPoP
	}
}
