//go:build unix

package sqlite

import (
	"os"
	"syscall"
)

// walIndex is the wal-index header at the start of the -shm file, mapped
// read-only and shared, as SQLite's own connections map it: reading it is a
// memory copy, where pread(2) cost the gateway a system call per API call.
// The file exists, at 32 KiB or more, while the watch connection is open,
// and SQLite never shrinks it while any connection holds it.
type walIndex struct{ mem []byte }

// openWALIndex maps the -shm file of the database at path, or returns nil:
// the generation is then read every time.
func openWALIndex(path string) *walIndex {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() < walIndexHeaderSize {
		return nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, walIndexHeaderSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return &walIndex{mem: mem}
}

// read copies the header into dst. A commit made meanwhile may tear the
// copy: it then matches no header seen before, and the generation is read.
func (w *walIndex) read(dst *[walIndexHeaderSize]byte) bool {
	copy(dst[:], w.mem)
	return true
}

func (w *walIndex) close() { _ = syscall.Munmap(w.mem) }
