package sqlite

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWALIndexKeepsSQLiteLocks: once Open has mapped the wal-index, the
// process still holds SQLite's locks on the -shm file. Closing a
// descriptor of the file after mapping it had dropped them all (fcntl
// locks go with any close of the file in the process), and a command run
// beside the server then reset the wal-index under its connections.
func TestWALIndexKeepsSQLiteLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apistore.db")
	d := openAt(t, path)
	if d.shm == nil || d.shm.mem == nil {
		t.Fatal("the wal-index header was not mapped")
	}
	if shmLocks(t, path) == 0 {
		t.Fatal("the process holds no lock on the -shm file after Open")
	}
}

// TestWALIndexSharedAcrossHandles: two handles of one database in one
// process share one descriptor of the -shm file, so closing one handle
// leaves the other's SQLite locks in place.
func TestWALIndexSharedAcrossHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apistore.db")
	d := openAt(t, path)
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if other.shm != d.shm {
		t.Error("the second handle mapped the -shm file again")
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	other.Close() // a second Close gives nothing back twice
	if shmLocks(t, path) == 0 {
		t.Fatal("closing one handle dropped the other's locks on the -shm file")
	}
	if _, err := d.Generation(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// openAt opens the database at path, closed at cleanup.
func openAt(t testing.TB, path string) *DB {
	t.Helper()
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// shmLocks counts the POSIX locks the process holds on the -shm file of
// the database at path (/proc/locks).
func shmLocks(t *testing.T, path string) int {
	t.Helper()
	st, err := os.Stat(path + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	inode := fmt.Sprintf(":%d ", st.Sys().(*syscall.Stat_t).Ino)
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Skip("no /proc/locks:", err)
	}
	pid := fmt.Sprintf(" %d ", os.Getpid())
	held := 0
	for line := range strings.SplitSeq(string(locks), "\n") {
		if strings.Contains(line, " POSIX ") && strings.Contains(line, pid) && strings.Contains(line, inode) {
			held++
		}
	}
	return held
}

// TestWALIndexRead: the mapping reads what is written to the file through
// another descriptor, and a file shrunk under it makes the read fail
// instead of crashing the process.
func TestWALIndexRead(t *testing.T) {
	base := filepath.Join(t.TempDir(), "x.db")
	header := bytes.Repeat([]byte{7}, walIndexHeaderSize)
	if err := os.WriteFile(base+"-shm", append(header, make([]byte, 4096)...), 0o600); err != nil {
		t.Fatal(err)
	}
	w := mapWALIndex(base + "-shm")
	if w == nil || w.mem == nil {
		t.Fatal("not mapped")
	}
	defer w.close()
	var got [walIndexHeaderSize]byte
	if !w.read(&got) || !bytes.Equal(got[:], header) {
		t.Fatalf("read %v, %x", w.read(&got), got)
	}
	f, err := os.OpenFile(base+"-shm", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{9, 9, 9}, 10); err != nil {
		t.Fatal(err)
	}
	if !w.read(&got) || got[10] != 9 || got[12] != 9 || got[13] != 7 {
		t.Fatalf("a write through another descriptor not seen: %x", got)
	}
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if w.read(&got) {
		t.Fatal("a read past the shrunk file's end succeeded")
	}
}

// BenchmarkGeneration is the gateway's per-call generation check with the
// wal-index header mapped, beside the pread(2) of the header it replaced
// (the reference, in the same run):
//
//	go test -run '^$' -bench Generation ./db/sqlite
func BenchmarkGeneration(b *testing.B) {
	d := openAt(b, filepath.Join(b.TempDir(), "apistore.db"))
	ctx := b.Context()
	b.Run("mapped", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.Generation(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pread", func(b *testing.B) {
		var wal [walIndexHeaderSize]byte
		for b.Loop() {
			if _, err := d.shm.f.ReadAt(wal[:], 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
