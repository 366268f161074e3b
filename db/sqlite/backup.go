package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// Backup writes a consistent copy of the database at src to dst with VACUUM
// INTO. It reads one snapshot (WAL lets a running server keep writing
// meanwhile) and needs no lock on the server's side; the copy is a complete
// database that apistore can start on, readable by its owner only. dst must
// not exist.
func Backup(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// The copy holds password and secret hashes: only the owner may read it,
	// as in the data directory. Creating it here, empty (VACUUM INTO fills an
	// empty file), also makes sure no other file is overwritten or removed.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("backup: %s already exists", dst)
	} else if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	conn, err := sql.Open("sqlite", "file:"+(&url.URL{Path: src}).EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("backup: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}
