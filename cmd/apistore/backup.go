package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/db/sqlite"
)

// backup copies the database to FILE: on SQLite with VACUUM INTO, on
// PostgreSQL with pg_dump; either way a consistent snapshot, taken while the
// server keeps serving.
func backup(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("backup", "Copies the database consistently, also while the server runs: apistore backup FILE [flags]. "+
		"On PostgreSQL it runs pg_dump (custom format; restore with pg_restore).", s)
	store := addStoreFlags(fs)
	file := fs.String("file", "", "where to write the copy; it must not exist (or give it as the first argument)")
	if err := parseFileFlags(fs, file, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("give the file to write: apistore backup FILE")
	}
	if db.IsPostgres(*store.database) {
		return pgDump(ctx, *store.database, *file, s)
	}
	if err := sqlite.Backup(ctx, filepath.Join(*store.dataDir, db.DatabaseFile), *file); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "apistore: backed up %s to %s\n", *store.dataDir, *file)
	return nil
}

// pgDump writes a PostgreSQL database to file with pg_dump, in its custom
// format, readable by its owner only (it holds password and secret hashes).
// Without pg_dump it says how to get it.
func pgDump(ctx context.Context, url, file string, s stdio) error {
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		return fmt.Errorf("on PostgreSQL, apistore backup runs pg_dump, which is not installed here "+
			"(Debian: apt-get install postgresql-client); or run it yourself: pg_dump --format=custom --file %s 'DATABASE_URL'", file)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("backup: %s already exists", file)
	} else if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	cmd := exec.CommandContext(ctx, bin, "--format=custom", "--file="+file, "--dbname="+url)
	cmd.Stderr = s.err
	if err := cmd.Run(); err != nil {
		os.Remove(file)
		return fmt.Errorf("backup: pg_dump: %w", err)
	}
	fmt.Fprintf(s.out, "apistore: backed up the PostgreSQL database to %s (restore with pg_restore)\n", file)
	return nil
}
