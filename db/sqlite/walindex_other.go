//go:build !unix

package sqlite

import "os"

// walIndex is the -shm file, read with ReadAt where it cannot be mapped.
// It stays open until DB.Close: closing any descriptor of the file drops
// the process's locks on it.
type walIndex struct{ f *os.File }

// openWALIndex opens the -shm file of the database at path for reading, or
// returns nil: the generation is then read every time.
func openWALIndex(path string) *walIndex {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return nil
	}
	return &walIndex{f: f}
}

// read reads the header into dst, reporting whether it could.
func (w *walIndex) read(dst *[walIndexHeaderSize]byte) bool {
	_, err := w.f.ReadAt(dst[:], 0)
	return err == nil
}

func (w *walIndex) close() { w.f.Close() }
