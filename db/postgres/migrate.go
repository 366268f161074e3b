package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The migrations carry SQLite's version numbers and names
// (db/sqlite/migrations), each the same step in PostgreSQL's dialect, so
// that one schema_migrations listing reads alike on both stores.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrateLock is the advisory lock key held while a process migrates:
// "apistore" in ASCII.
const migrateLock int64 = 0x61706973746f7265

// afterMigration, when set (by tests), is called after each migration this
// process applied.
var afterMigration func(name string)

// MigrationsDigest is a SHA-256, in hex, over the names and contents of the
// migrations Open applies: two builds with the same digest migrate a database
// to the same schema. Tests name a database migrated once and copied for each
// test by it (internal/fixture).
func MigrationsDigest() string {
	h := sha256.New()
	for _, name := range migrationFiles() {
		body, err := migrations.ReadFile(name)
		if err != nil {
			panic(err) // unreachable: the name was just listed
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(body))
		h.Write(body)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// migrate applies the embedded migrations not yet recorded, each in its own
// transaction, on conn. Nodes starting together take turns: each holds a
// session advisory lock while it migrates, and the others wait for it, then
// find nothing left to do. A database that holds a migration this build
// does not know is refused, untouched.
func migrate(ctx context.Context, conn *pgx.Conn) (err error) {
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("migrate: wait for another process's migration: %w", err)
	}
	defer func() {
		if _, unlockErr := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, migrateLock); unlockErr != nil && err == nil {
			err = fmt.Errorf("migrate: release the lock: %w", unlockErr)
		}
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names := migrationFiles()
	type migration struct {
		version    int
		base, path string
	}
	var list []migration
	latest := 0
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad migration name %q", base)
		}
		list = append(list, migration{version, base, name})
		latest = max(latest, version)
	}
	// A database a newer apistore has migrated may hold data this one
	// would misread or damage: refuse it rather than run on it, before
	// changing anything.
	// Read once: no other process migrates while the lock is held. An
	// up-to-date database then costs one query, not a transaction for each
	// migration (the tests open hundreds of migrated databases).
	rows, err := conn.Query(ctx, `SELECT version, name FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	type applied struct {
		Version int
		Name    string
	}
	recorded, err := pgx.CollectRows(rows, pgx.RowToStructByPos[applied])
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// A database a newer apistore has migrated may hold data this one
	// would misread or damage: refuse it rather than run on it, before
	// changing anything.
	var unknown string
	done := make([]int, 0, len(recorded))
	for _, r := range recorded {
		done = append(done, r.Version)
		if r.Version > latest && r.Name > unknown {
			unknown = r.Name
		}
	}
	if unknown != "" {
		return fmt.Errorf("%w: it has migration %s, which this apistore does not know; run a newer apistore on it",
			ErrNewerSchema, unknown)
	}
	for _, m := range list {
		if slices.Contains(done, m.version) {
			continue
		}
		if err := applyMigration(ctx, conn, m.version, m.base, m.path); err != nil {
			return fmt.Errorf("migrate %s: %w", m.base, err)
		}
	}
	return nil
}

// migrationFiles are the embedded migrations' paths, in the order they apply.
func migrationFiles() []string {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		panic(err) // unreachable: the pattern is valid
	}
	sort.Strings(names)
	return names
}

// applyMigration applies a migration not yet recorded and records it, in one
// transaction.
func applyMigration(ctx context.Context, conn *pgx.Conn, version int, base, path string) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		body, err := migrations.ReadFile(path)
		if err != nil {
			return err
		}
		// Sent as one simple-protocol query: a file holds many statements.
		if _, err := tx.Exec(ctx, string(body), pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			version, base, time.Now().UnixMilli())
		return err
	})
	if err == nil && afterMigration != nil {
		afterMigration(base)
	}
	return err
}
