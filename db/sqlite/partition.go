package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"

	"github.com/apistore/apistore/db/internal/partition"
	"github.com/apistore/apistore/oauth"
)

// Token partitioning (migration 0135; package db/internal/partition): the
// tokens of a partitioned user-store domain live in tokens_<name>. A
// token's lookups by hash go to the one table its partition
// (oauth.PartitionFrom) names; what covers every token (revocation by user
// or key, cleanup, counts) runs on each.

// parts returns the partitioning in use.
func (d *DB) parts() *partition.Set { return d.partitions.Load() }

// execTokens runs q, whose {tokens} stands for a token table, on every
// partition's table in tx and returns the rows changed.
func (d *DB) execTokens(ctx context.Context, tx *sql.Tx, q string, args ...any) (int64, error) {
	return d.parts().Sum(func(table string) (int64, error) {
		res, err := tx.ExecContext(ctx, partition.On(q, table), args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
}

// stringsOn is a partition.Query on q (a pool or a transaction).
func stringsOn(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) partition.Query {
	return func(query string, args ...any) ([]string, error) { return column(ctx, q, query, args...) }
}

// noRows is partition.Set.Lookup's missing.
func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// PartitionTokens makes the database's token partitioning ps, moving
// tokens (partition.Change), in one transaction.
func (d *DB) PartitionTokens(ctx context.Context, ps []oauth.Partition) error {
	return d.partitions.Change(ps, func(change func(partition.Tx) error) error {
		return d.tx(ctx, func(tx *sql.Tx) error {
			return change(partition.Tx{Query: stringsOn(ctx, tx), Columns: `SELECT name FROM pragma_table_info($1) ORDER BY cid`,
				Exec: func(q string) error {
					_, err := tx.ExecContext(ctx, q)
					return err
				},
				CopyTokens:    func(table string) error { return copyTokens(ctx, tx, table) },
				IssueCountOff: func(table string) ([]string, []string, error) { return issueCountOff(ctx, tx, table) }})
		})
	})
}

// Failed never delivers: the one process serving a file holds its
// partitioning.
func (d *DB) Failed() <-chan error { return nil }

// issueCountOff drops table's issue-count trigger and makes it again.
func issueCountOff(ctx context.Context, tx *sql.Tx, table string) (off, on []string, err error) {
	made, err := column(ctx, tx, `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1 AND name = $2`,
		table, table+"_issue_count")
	if err != nil || len(made) == 0 {
		return nil, nil, err
	}
	return []string{`DROP TRIGGER ` + table + `_issue_count`}, made, nil
}

var (
	createTable = regexp.MustCompile(`^CREATE TABLE\s+"?tokens"?\s*\(`)
	createOn    = regexp.MustCompile(`^(CREATE (?:UNIQUE )?(?:INDEX|TRIGGER))\s+"?tokens(\w*)"?(.*?\sON\s+)"?tokens"?(\s|\()`)
)

// copyTokens copies the statements that made tokens, its indexes and
// triggers, each under table's name.
func copyTokens(ctx context.Context, tx *sql.Tx, table string) error {
	rows, err := tx.QueryContext(ctx, `SELECT type, sql FROM sqlite_master WHERE tbl_name = 'tokens' AND sql IS NOT NULL
		ORDER BY type = 'table' DESC, type = 'index' DESC`)
	if err != nil {
		return fmt.Errorf("copy tokens table: %w", err)
	}
	var ddl []string
	for rows.Next() {
		var typ, q string
		if err := rows.Scan(&typ, &q); err != nil {
			rows.Close()
			return fmt.Errorf("copy tokens table: %w", err)
		}
		out := createOn.ReplaceAllString(q, "${1} "+table+"${2}${3}"+table+"${4}")
		if typ == "table" {
			out = createTable.ReplaceAllString(q, "CREATE TABLE "+table+" (")
		}
		if out == q {
			rows.Close()
			return fmt.Errorf("copy tokens table: cannot rename %q", q)
		}
		ddl = append(ddl, out)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("copy tokens table: %w", err)
	}
	for _, q := range ddl {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("copy tokens table: %q: %w", q, err)
		}
	}
	return nil
}
