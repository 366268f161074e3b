package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/internal/partition"
	"github.com/apistore/apistore/oauth"
)

// Token partitioning, as in package sqlite; a partition's table is made
// LIKE tokens, with the foreign keys and triggers LIKE leaves out.

// parts returns the partitioning in use.
func (d *DB) parts() *partition.Set { return d.partitions.Load() }

// execTokens runs q, whose {tokens} stands for a token table, on every
// partition's table in tx and returns the rows changed.
func (d *DB) execTokens(ctx context.Context, tx querier, q string, args ...any) (int64, error) {
	return d.parts().Sum(func(table string) (int64, error) {
		tag, err := exec(ctx, tx, partition.On(q, table), args...)
		return tag.RowsAffected(), err
	})
}

// stringsOn is a partition.Query on q (the pool or a transaction).
func stringsOn(ctx context.Context, q querier) partition.Query {
	return func(query string, args ...any) ([]string, error) {
		rows, err := q.Query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
}

// noRows is partition.Set.Lookup's missing.
func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// PartitionTokens makes the database's token partitioning ps, moving
// tokens (partition.Change), in one transaction under the migration lock:
// nodes starting together take turns.
func (d *DB) PartitionTokens(ctx context.Context, ps []oauth.Partition) error {
	return d.partitions.Change(ps, func(change func(partition.Tx) error) error {
		return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
				return err
			}
			return change(partition.Tx{Query: stringsOn(ctx, tx), Columns: `SELECT column_name FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
				Exec: func(q string) error {
					_, err := tx.Exec(ctx, q)
					return err
				},
				CopyTokens: func(table string) error { return copyTokens(ctx, tx, table) },
				IssueCountOff: func(table string) ([]string, []string, error) {
					return []string{`ALTER TABLE ` + table + ` DISABLE TRIGGER tokens_issue_count`},
						[]string{`ALTER TABLE ` + table + ` ENABLE TRIGGER tokens_issue_count`}, nil
				}})
		})
	})
}

var triggerOn = regexp.MustCompile(`\sON\s+((?:\S+\.)?)tokens\s`)

// copyTokens makes table LIKE tokens INCLUDING ALL (columns, defaults,
// identity, constraints, indexes), then adds the foreign keys and triggers
// that LIKE leaves out.
func copyTokens(ctx context.Context, tx pgx.Tx, table string) error {
	fks, err := stringsOn(ctx, tx)(`SELECT 'ALTER TABLE ` + table + ` ADD ' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = 'tokens'::regclass AND contype = 'f' ORDER BY conname`)
	if err != nil {
		return fmt.Errorf("copy tokens table: %w", err)
	}
	triggers, err := stringsOn(ctx, tx)(`SELECT pg_get_triggerdef(oid) FROM pg_trigger
		WHERE tgrelid = 'tokens'::regclass AND NOT tgisinternal ORDER BY tgname`)
	if err != nil {
		return fmt.Errorf("copy tokens table: %w", err)
	}
	ddl := append([]string{`CREATE TABLE ` + table + ` (LIKE tokens INCLUDING ALL)`}, fks...)
	for _, t := range triggers {
		out := triggerOn.ReplaceAllString(t, " ON ${1}"+table+" ")
		if out == t {
			return fmt.Errorf("copy tokens table: cannot rename %q", t)
		}
		ddl = append(ddl, out)
	}
	for _, q := range ddl {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("copy tokens table: %q: %w", q, err)
		}
	}
	return nil
}
