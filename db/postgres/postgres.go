// Package postgres is apistore's store for clusters, on PostgreSQL through
// pgx: schema, migrations and every SQL statement. It implements the same
// storage interfaces as package sqlite and passes the same conformance
// suite (db/dbtest).
package postgres

import (
	"context"
	"errors"
)

// ErrNewerSchema is returned by Open for a database a newer apistore has
// migrated.
var ErrNewerSchema = errors.New("the database was written by a newer apistore")

// DB is an open PostgreSQL store.
type DB struct{}

// Open connects to the database at url and migrates it.
func Open(ctx context.Context, url string) (*DB, error) {
	return nil, errors.New("PostgreSQL: not implemented yet")
}
