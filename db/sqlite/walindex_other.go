//go:build !unix

package sqlite

import "os"

// walIndex is the -shm file, read with ReadAt where it cannot be mapped.
type walIndex struct{ f *os.File }

// mapWALIndex opens the -shm file name for reading, or returns nil.
func mapWALIndex(name string) *walIndex {
	f, err := os.Open(name)
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
