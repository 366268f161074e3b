package web

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Session keys: a 64-byte HMAC key that signs session cookies and a 32-byte
// AES key that encrypts them. They are kept in the store, so that a restart
// does not log everyone out and every node of a cluster reads the cookies
// the others write.
const (
	hashKeyLen  = 64
	blockKeyLen = 32
	// legacySessionKeysFile is where apistore kept the keys before they
	// moved into the store: a server upgraded in place keeps them, so
	// its users stay logged in.
	legacySessionKeysFile = "session-keys"
)

// KeyStore keeps the session keys every node shares.
type KeyStore interface {
	// SessionKeys returns the stored keys, or stores candidate and returns
	// it when there are none.
	SessionKeys(ctx context.Context, candidate []byte) ([]byte, error)
}

// SessionKeys returns the session keys from the store, making them on the
// first start (from dataDir's old session-keys file, when there is one).
func SessionKeys(ctx context.Context, s KeyStore, dataDir string) (hashKey, blockKey []byte, err error) {
	candidate, err := os.ReadFile(filepath.Join(dataDir, legacySessionKeysFile))
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(candidate) != hashKeyLen+blockKeyLen) {
		candidate = make([]byte, hashKeyLen+blockKeyLen)
		_, _ = rand.Read(candidate) // crypto/rand.Read never fails (Go 1.24+)
	} else if err != nil {
		return nil, nil, fmt.Errorf("read session keys: %w", err)
	}
	b, err := s.SessionKeys(ctx, candidate)
	if err != nil {
		return nil, nil, err
	}
	if len(b) != hashKeyLen+blockKeyLen {
		return nil, nil, fmt.Errorf("session keys: want %d bytes, the store holds %d", hashKeyLen+blockKeyLen, len(b))
	}
	return b[:hashKeyLen], b[hashKeyLen:], nil
}
