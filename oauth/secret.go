package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// Hash is the SHA-256 of a secret, token or code: all that is ever stored of
// them. Their 256 bits of randomness make a fast hash safe (no brute force
// can reach them), which keeps the token endpoint fast.
type Hash [sha256.Size]byte

// HashOf hashes a secret or token string. Secrets and tokens (43
// characters) are copied to the stack first: converting the string would
// allocate, on every call the gateway checks.
func HashOf(s string) Hash {
	var buf [64]byte
	if len(s) <= len(buf) {
		return sha256.Sum256(append(buf[:0], s...))
	}
	return sha256.Sum256([]byte(s))
}

// IsZero reports whether h is unset.
func (h Hash) IsZero() bool { return h == Hash{} }

// Equal compares in constant time.
func (h Hash) Equal(o Hash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// String is the hex form, safe to log: it does not reveal the token.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// NewSecret returns a random 256-bit value, base64url-encoded (43 characters):
// the form of every consumer secret, access token, refresh token and code.
func NewSecret() string { return randomString(32) }

// NewConsumerKey returns a random 128-bit client identifier (22 characters).
func NewConsumerKey() string { return randomString(16) }

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
