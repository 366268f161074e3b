package oauth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for user passwords: 12 MiB, 3 passes, 1 lane, one of
// OWASP's equivalent minimum settings (the lower memory keeps the server's
// RSS small under a burst of logins). Hashing is limited to one per core
// (at most 4) at once: more would not finish sooner, and each hash in
// flight holds its 12 MiB.
const (
	argonTime    = 3
	argonMemory  = 12 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

var passwordSlots = make(chan struct{}, min(runtime.NumCPU(), 4))

// dummyPasswordHash is checked against for unknown users, so a login takes
// as long whether or not the user exists.
var dummyPasswordHash = mustHashPassword("apistore-dummy-password")

// HashPassword returns the PHC-formatted argon2id hash of a password.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argonKey([]byte(password), salt, argonTime, argonMemory, argonThreads)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

func mustHashPassword(password string) string {
	h, err := HashPassword(password)
	if err != nil {
		panic(err)
	}
	return h
}

// CheckPassword reports whether password matches the encoded hash. An empty
// or malformed hash matches nothing, after the same work as a real check.
func CheckPassword(encoded, password string) bool {
	salt, key, t, m, p, err := parsePasswordHash(encoded)
	if err != nil {
		CheckPassword(dummyPasswordHash, password)
		return false
	}
	got := argonKey([]byte(password), salt, t, m, p)
	return subtle.ConstantTimeCompare(got, key) == 1
}

func argonKey(password, salt []byte, t, m uint32, p uint8) []byte {
	passwordSlots <- struct{}{}
	defer func() { <-passwordSlots }()
	return argon2.IDKey(password, salt, t, m, p, argonKeyLen)
}

var errBadHash = errors.New("malformed password hash")

func parsePasswordHash(encoded string) (salt, key []byte, t, m uint32, p uint8, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return nil, nil, 0, 0, 0, errBadHash
	}
	var version int
	if _, err = fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return nil, nil, 0, 0, 0, errBadHash
	}
	if _, err = fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || t == 0 || p == 0 || m > 1<<20 {
		return nil, nil, 0, 0, 0, errBadHash
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(parts[4]); err != nil {
		return nil, nil, 0, 0, 0, errBadHash
	}
	if key, err = enc.DecodeString(parts[5]); err != nil || len(key) != argonKeyLen {
		return nil, nil, 0, 0, 0, errBadHash
	}
	return salt, key, t, m, p, nil
}
