// Package rowmap is the Go that package sqlite and package postgres share
// around their SQL: column lists, statement arguments, scan destinations
// and the loops that read rows into the portal's and oauth's types. The
// statements stay in the stores; what is here reads and writes the same
// columns the same way in both dialects. database/sql and pgx both scan a
// NULL into a nil pointer, and send a nil pointer as NULL, so nullable
// columns are pointers here.
package rowmap

import (
	"fmt"
	"time"
)

// Row is a row to scan: *sql.Row, *sql.Rows, pgx.Row and pgx.Rows.
type Row interface {
	Scan(dest ...any) error
}

// Rows are the rows of a query: *sql.Rows and pgx.Rows (each store closes
// its own).
type Rows interface {
	Row
	Next() bool
	Err() error
}

// Read reads every row with scan; a scan's error and the rows' are
// returned as they are.
func Read[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	out, err := read(rows, scan)
	if err != nil {
		return nil, err
	}
	return out, rows.Err()
}

// All is Read that wraps a scan's error in what; the rows' error is
// returned as it is.
func All[T any](rows Rows, what string, scan func(Row) (T, error)) ([]T, error) {
	out, err := read(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, rows.Err()
}

// AllWrapped is All that wraps the rows' error in what too.
func AllWrapped[T any](rows Rows, what string, scan func(Row) (T, error)) ([]T, error) {
	out, err := read(rows, scan)
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// read reads every row with scan, up to a scan's error.
func read[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Millis is a time as Unix milliseconds, nil (NULL) for the zero time.
func Millis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixMilli()
	return &n
}

// FromMillis is Millis reversed.
func FromMillis(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.UnixMilli(*n)
}

// Value is a scan that reads a pointer as one that reads a value, for All.
func Value[T any](scan func(Row) (*T, error)) func(Row) (T, error) {
	return func(row Row) (T, error) {
		p, err := scan(row)
		if err != nil {
			var zero T
			return zero, err
		}
		return *p, nil
	}
}
