package web

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Session keys: a 64-byte HMAC key that signs session cookies and a 32-byte
// AES key that encrypts them, kept in the data directory so that a restart
// does not log everyone out.
const (
	sessionKeysFile = "session-keys"
	hashKeyLen      = 64
	blockKeyLen     = 32
)

// LoadSessionKeys reads the session keys from dataDir, making them on first
// start. Deleting the file logs everyone out at the next start.
func LoadSessionKeys(dataDir string) (hashKey, blockKey []byte, err error) {
	path := filepath.Join(dataDir, sessionKeysFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b = make([]byte, hashKeyLen+blockKeyLen)
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
		// O_EXCL: of two servers starting on one directory, one writes.
		f, cerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if cerr != nil {
			return nil, nil, fmt.Errorf("make session keys: %w", cerr)
		}
		_, werr := f.Write(b)
		if err := errors.Join(werr, f.Close()); err != nil {
			os.Remove(path)
			return nil, nil, fmt.Errorf("make session keys: %w", err)
		}
	} else if err != nil {
		return nil, nil, fmt.Errorf("read session keys: %w", err)
	}
	if len(b) != hashKeyLen+blockKeyLen {
		return nil, nil, fmt.Errorf("session keys %s: want %d bytes, found %d (delete it to make new keys)", path, hashKeyLen+blockKeyLen, len(b))
	}
	return b[:hashKeyLen], b[hashKeyLen:], nil
}
