package sqlite

import (
	"os"
	"slices"
	"sync"
)

// walIndexes are the -shm files the process holds open, one descriptor per
// file however many handles open its database: closing any descriptor of
// the file drops every POSIX lock the process holds on it, SQLite's own
// included, so a descriptor is closed only when the last handle using it
// closes, after that handle's connections (DB.Close).
var walIndexes struct {
	sync.Mutex
	open []*sharedWALIndex
}

type sharedWALIndex struct {
	file os.FileInfo // for os.SameFile
	w    *walIndex
	refs int
}

// openWALIndex returns the wal-index of the database at path, shared with
// the process's other handles of the same file, or nil: the generation is
// then read every time. Release it with releaseWALIndex.
func openWALIndex(path string) *walIndex {
	file, err := os.Stat(path + "-shm")
	if err != nil {
		return nil
	}
	walIndexes.Lock()
	defer walIndexes.Unlock()
	for _, s := range walIndexes.open {
		if os.SameFile(s.file, file) {
			s.refs++
			return s.w
		}
	}
	w := mapWALIndex(path + "-shm")
	if w != nil {
		walIndexes.open = append(walIndexes.open, &sharedWALIndex{file: file, w: w, refs: 1})
	}
	return w
}

// releaseWALIndex gives w back; the last handle's release closes it.
func releaseWALIndex(w *walIndex) {
	walIndexes.Lock()
	defer walIndexes.Unlock()
	i := slices.IndexFunc(walIndexes.open, func(s *sharedWALIndex) bool { return s.w == w })
	if i < 0 {
		return
	}
	if s := walIndexes.open[i]; s.refs > 1 {
		s.refs--
		return
	}
	walIndexes.open = slices.Delete(walIndexes.open, i, i+1)
	w.close()
}
