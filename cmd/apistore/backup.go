package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/apistore/apistore/db"
)

// backup copies the database to FILE with VACUUM INTO: a consistent
// snapshot, taken while the server keeps serving. "apistore serve
// --data-dir DIR" on a directory holding the copy as apistore.db starts on it.
func backup(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("backup", "Copies the database consistently, also while the server runs: apistore backup FILE [flags].", s)
	dataDir := dataDirFlag(fs)
	file := fs.String("file", "", "where to write the copy; it must not exist (or give it as the first argument)")
	if err := parseFileFlags(fs, file, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("give the file to write: apistore backup FILE")
	}
	if err := db.Backup(ctx, filepath.Join(*dataDir, "apistore.db"), *file); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "apistore: backed up %s to %s\n", *dataDir, *file)
	return nil
}
