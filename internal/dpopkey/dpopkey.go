// Package dpopkey is a DPoP client's side (RFC 9449 §4.2): a P-256 key
// that signs proofs with go-jose, for the tests and the load tool.
package dpopkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Key signs proofs with one key pair.
type Key struct {
	signer jose.Signer
	JKT    string // the public key's SHA-256 JWK thumbprint, base64url (RFC 7638)
}

// Claims are a proof's claims.
type Claims struct {
	JTI   string `json:"jti,omitempty"`
	HTM   string `json:"htm,omitempty"`
	HTU   string `json:"htu,omitempty"`
	IAT   int64  `json:"iat,omitempty"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// New makes a key.
func New() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		return nil, err
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: string(jose.ES256)}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &Key{signer: signer, JKT: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// NewClaims are the claims of a fresh proof of a call to method and url at
// now, for the access token when one is given (its hash as ath).
func NewClaims(method, url, accessToken string, now time.Time) Claims {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti) // never fails (crypto/rand)
	c := Claims{JTI: base64.RawURLEncoding.EncodeToString(jti), HTM: method, HTU: url, IAT: now.Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c.ATH = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return c
}

// Sign signs a proof of the claims, in compact serialization.
func (k *Key) Sign(c Claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
