package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/oauth"
)

// Token partitioning (migration 0135), as in package sqlite: the tokens of
// a partitioned user-store domain live in tokens_<name>, a table made LIKE
// tokens with its foreign keys and triggers. A token's lookups by hash go
// to the one table its partition (oauth.PartitionFrom) names; what covers
// every token (revocation by user or key, cleanup, counts) runs on each.

// tokenPartitions is the partitioning the database holds, read at Open and
// after PartitionTokens.
type tokenPartitions struct {
	byDomain map[string]string // upper-case domain → table
	tables   []string          // "tokens" first
	forwards bool              // token_forwards has rows
}

var defaultPartitions = &tokenPartitions{tables: []string{"tokens"}}

// parts returns the partitioning in use.
func (d *DB) parts() *tokenPartitions {
	if p := d.partitions.Load(); p != nil {
		return p
	}
	return defaultPartitions
}

// table returns the table of a partition's tokens: the default one for ""
// and for a domain not partitioned.
func (p *tokenPartitions) table(domain string) string {
	if t, ok := p.byDomain[strings.ToUpper(domain)]; ok {
		return t
	}
	return "tokens"
}

// domain returns the partition whose table is table.
func (p *tokenPartitions) domain(table string) string {
	for d, t := range p.byDomain {
		if t == table {
			return d
		}
	}
	return ""
}

// all is a FROM item for every token of every partition.
func (p *tokenPartitions) all() string {
	if len(p.tables) == 1 {
		return "tokens"
	}
	return "(SELECT * FROM " + strings.Join(p.tables, " UNION ALL SELECT * FROM ") + ")"
}

// onTable returns q, whose {tokens} stands for a token table, for table.
func onTable(q, table string) string { return strings.ReplaceAll(q, "{tokens}", table) }

// execTokens runs q on every partition's table in tx and returns the rows
// changed.
func (d *DB) execTokens(ctx context.Context, tx querier, q string, args ...any) (int64, error) {
	var n int64
	for _, t := range d.parts().tables {
		tag, err := exec(ctx, tx, onTable(q, t), args...)
		if err != nil {
			return n, err
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// loadPartitions reads the partitioning the database holds.
func (d *DB) loadPartitions(ctx context.Context, q querier) error {
	rows, err := q.Query(ctx, `SELECT domain, name FROM token_partitions ORDER BY name`)
	if err != nil {
		return fmt.Errorf("load token partitions: %w", err)
	}
	p := &tokenPartitions{byDomain: map[string]string{}, tables: []string{"tokens"}}
	for rows.Next() {
		var domain, name string
		if err := rows.Scan(&domain, &name); err != nil {
			rows.Close()
			return fmt.Errorf("load token partitions: %w", err)
		}
		p.byDomain[domain] = "tokens_" + name
		p.tables = append(p.tables, "tokens_"+name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load token partitions: %w", err)
	}
	if len(p.byDomain) > 0 {
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM token_forwards)`).Scan(&p.forwards); err != nil {
			return fmt.Errorf("load token partitions: %w", err)
		}
	}
	d.partitions.Store(p)
	return nil
}

// forwarded returns the table of the partition an unmarked token hashing to
// h was moved to, or "" when it was not.
func (d *DB) forwarded(ctx context.Context, p *tokenPartitions, h oauth.Hash) (string, error) {
	if !p.forwards {
		return "", nil
	}
	var domain string
	err := d.pool.QueryRow(ctx, `SELECT domain FROM token_forwards WHERE hash = $1`, h[:]).Scan(&domain)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("forwarded token: %w", err)
	}
	if t := p.table(domain); t != "tokens" {
		return t, nil
	}
	return "", nil
}

// hashTable returns the table a write on the token hashing to h goes to:
// the partition ctx names, else the one an unmarked token was moved to.
func (d *DB) hashTable(ctx context.Context, h oauth.Hash) (string, error) {
	p := d.parts()
	if domain := oauth.PartitionFrom(ctx); domain != "" {
		return p.table(domain), nil
	}
	if t, err := d.forwarded(ctx, p, h); t != "" || err != nil {
		return t, err
	}
	return "tokens", nil
}

// lookup runs find on the table of the partition ctx names; an unmarked
// token not found in the default table is looked for where it was moved.
// It returns the partition the token was found in.
func (d *DB) lookup(ctx context.Context, h oauth.Hash, find func(table string) error) (string, error) {
	p := d.parts()
	domain := oauth.PartitionFrom(ctx)
	table := p.table(domain)
	err := find(table)
	if domain == "" && errors.Is(err, pgx.ErrNoRows) {
		moved, ferr := d.forwarded(ctx, p, h)
		if ferr != nil {
			return "", ferr
		}
		if moved != "" {
			table, err = moved, find(moved)
		}
	}
	return p.domain(table), err
}

// PartitionTokens makes the database's token partitioning ps: it makes the
// table of a new partition and moves its domain's tokens there, and moves
// the tokens of a partition no longer wanted back to the default table,
// dropping its table, in one transaction under the migration lock (nodes
// starting together take turns). A token moved keeps working: one issued
// without a marker is found through token_forwards.
func (d *DB) PartitionTokens(ctx context.Context, ps []oauth.Partition) error {
	ps, err := oauth.CheckPartitions(ps)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
			return err
		}
		if err := d.loadPartitions(ctx, tx); err != nil {
			return err
		}
		cur := d.parts()
		want := map[string]string{}
		for _, p := range ps {
			want[p.Domain] = "tokens_" + p.Name
		}
		columns, err := tableColumns(ctx, tx, "tokens")
		if err != nil {
			return err
		}
		for domain, table := range cur.byDomain {
			if want[domain] == table {
				if cols, err := tableColumns(ctx, tx, table); err != nil {
					return err
				} else if !slices.Equal(cols, columns) {
					return fmt.Errorf("token partition %s: its columns are not those of tokens (a migration changed tokens): turn its partitioning off, then on", table)
				}
				continue
			}
			if err := moveTokens(ctx, tx, columns, table, "tokens", "true"); err != nil {
				return err
			}
			for _, q := range []string{`DELETE FROM token_forwards WHERE domain = $1`, `DELETE FROM token_partitions WHERE domain = $1`} {
				if _, err := tx.Exec(ctx, q, domain); err != nil {
					return fmt.Errorf("remove token partition %s: %w", table, err)
				}
			}
			if _, err := tx.Exec(ctx, `DROP TABLE `+table); err != nil {
				return fmt.Errorf("remove token partition %s: %w", table, err)
			}
		}
		for _, p := range ps {
			table := want[p.Domain]
			if cur.byDomain[p.Domain] != table {
				if err := copyTokensTable(ctx, tx, table); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO token_partitions (domain, name) VALUES ($1, $2)`, p.Domain, p.Name); err != nil {
					return fmt.Errorf("add token partition %s: %w", table, err)
				}
			}
			// Every start: the domain's tokens still in the default table
			// (all of them when the partition is new) move.
			of := `user_id IN (SELECT su.user_id FROM user_store_users su JOIN user_stores s ON s.id = su.store_id
				WHERE upper(s.domain) = ` + quote(p.Domain) + `)`
			if _, err := tx.Exec(ctx, `INSERT INTO token_forwards (hash, domain)
				SELECT access_hash, $1 FROM tokens WHERE partition IS NULL AND `+of+`
				UNION ALL SELECT refresh_hash, $1 FROM tokens WHERE partition IS NULL AND refresh_hash IS NOT NULL AND `+of+`
				ON CONFLICT DO NOTHING`, p.Domain); err != nil {
				return fmt.Errorf("forward moved tokens: %w", err)
			}
			if err := moveTokens(ctx, tx, columns, "tokens", table, of); err != nil {
				return err
			}
		}
		return d.loadPartitions(ctx, tx)
	})
	if err != nil {
		_ = d.loadPartitions(ctx, d.pool)
		return fmt.Errorf("token partitioning: %w", err)
	}
	return nil
}

// quote is a SQL string literal of s (a domain, checked by
// oauth.CheckPartitions).
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// tableColumns lists a table's columns in order.
func tableColumns(ctx context.Context, tx pgx.Tx, table string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	return cols, nil
}

// moveTokens moves the rows of from matching where to to, with new ids.
// The destination's issue-count trigger is off meanwhile: a moved token
// was counted when it was issued.
func moveTokens(ctx context.Context, tx pgx.Tx, columns []string, from, to, where string) error {
	cols := strings.Join(slices.DeleteFunc(slices.Clone(columns), func(c string) bool { return c == "id" }), ", ")
	for _, q := range []string{
		`ALTER TABLE ` + to + ` DISABLE TRIGGER tokens_issue_count`,
		`INSERT INTO ` + to + ` (` + cols + `) SELECT ` + cols + ` FROM ` + from + ` WHERE ` + where + ` ORDER BY id`,
		`DELETE FROM ` + from + ` WHERE ` + where,
		`ALTER TABLE ` + to + ` ENABLE TRIGGER tokens_issue_count`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("move tokens from %s to %s: %w", from, to, err)
		}
	}
	return nil
}

var triggerOn = regexp.MustCompile(`\sON\s+((?:\S+\.)?)tokens\s`)

// copyTokensTable makes table a copy of tokens: its columns, defaults,
// identity, constraints and indexes (LIKE … INCLUDING ALL), then its
// foreign keys and triggers, which LIKE leaves out.
func copyTokensTable(ctx context.Context, tx pgx.Tx, table string) error {
	ddl := []string{`CREATE TABLE ` + table + ` (LIKE tokens INCLUDING ALL)`}
	rows, err := tx.Query(ctx, `SELECT 'ALTER TABLE `+table+` ADD '||pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = 'tokens'::regclass AND contype = 'f' ORDER BY conname`)
	if err != nil {
		return fmt.Errorf("copy tokens table: %w", err)
	}
	fks, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("copy tokens table: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT pg_get_triggerdef(oid) FROM pg_trigger
		WHERE tgrelid = 'tokens'::regclass AND NOT tgisinternal ORDER BY tgname`)
	if err != nil {
		return fmt.Errorf("copy tokens table: %w", err)
	}
	triggers, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("copy tokens table: %w", err)
	}
	ddl = append(ddl, fks...)
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
