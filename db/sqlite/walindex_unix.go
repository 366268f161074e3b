//go:build unix

package sqlite

import (
	"os"
	"runtime/debug"
	"syscall"
)

// walIndex is the wal-index header at the start of the -shm file, mapped
// read-only and shared, as SQLite's own connections map it: reading it is a
// memory copy, where a pread(2) cost the gateway a system call per API
// call. The file stays open as long as the mapping (see walIndexes for
// why it is closed last). The file exists, at 32 KiB or more, while the
// watch connection is open, and SQLite does not shrink it while any
// connection holds it.
type walIndex struct {
	f   *os.File
	mem []byte
}

// mapWALIndex opens and maps the -shm file name, or returns nil.
func mapWALIndex(name string) *walIndex {
	f, err := os.Open(name)
	if err != nil {
		return nil
	}
	var mem []byte
	st, err := f.Stat()
	if err == nil && st.Size() >= walIndexHeaderSize {
		mem, err = syscall.Mmap(int(f.Fd()), 0, walIndexHeaderSize, syscall.PROT_READ, syscall.MAP_SHARED)
	}
	if err != nil || mem == nil {
		// Kept open even so: closing it now would drop SQLite's locks.
		return &walIndex{f: f}
	}
	return &walIndex{f: f, mem: mem}
}

// read copies the header into dst, reporting whether it could. A commit
// made meanwhile may tear the copy: it then matches no header seen before,
// and the generation is read. Should the file ever shrink under the
// mapping, the fault makes the read fail rather than the process crash.
func (w *walIndex) read(dst *[walIndexHeaderSize]byte) (ok bool) {
	if w.mem == nil {
		return false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	copy(dst[:], w.mem)
	return true
}

// close unmaps the header and closes the file.
func (w *walIndex) close() {
	if w.mem != nil {
		_ = syscall.Munmap(w.mem)
	}
	w.f.Close()
}
