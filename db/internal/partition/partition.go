// Package partition is what package sqlite and package postgres share of
// token partitioning (migration 0135): which table holds a partition's
// tokens, how a lookup picks one, and the steps that move tokens when the
// partitioning changes. The SQL it writes is the same in both dialects;
// each store runs it in its own transaction.
package partition

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apistore/apistore/oauth"
)

// Default is the table of the default partition, and of every token when
// partitioning is off.
const Default = "tokens"

// Set is the token partitioning a database holds.
type Set struct {
	byDomain map[string]string // upper-case domain → table
	// Tables are every partition's table, Default first.
	Tables []string
	// Forwards says token_forwards has rows: tokens issued without a
	// marker were moved to a partition.
	Forwards bool
}

// Off is the Set of a database without partitions.
var Off = &Set{Tables: []string{Default}}

// Current is a store's partitioning in use: Off until Stored.
type Current struct{ p atomic.Pointer[Set] }

// Load returns the partitioning in use.
func (c *Current) Load() *Set {
	if p := c.p.Load(); p != nil {
		return p
	}
	return Off
}

// Store makes s the partitioning in use.
func (c *Current) Store(s *Set) { c.p.Store(s) }

// New returns a Set without partitions, to Add them to.
func New() *Set { return &Set{byDomain: map[string]string{}, Tables: []string{Default}} }

// Add adds the partition of domain, whose table is tokens_<name>.
func (s *Set) Add(domain, name string) {
	s.byDomain[domain] = Default + "_" + name
	s.Tables = append(s.Tables, Default+"_"+name)
}

// Partitioned reports whether s has partitions.
func (s *Set) Partitioned() bool { return len(s.byDomain) > 0 }

// Table returns the table of a partition's tokens: Default for "" and for
// a domain not partitioned.
func (s *Set) Table(domain string) string {
	if t, ok := s.byDomain[strings.ToUpper(domain)]; ok {
		return t
	}
	return Default
}

// Is reports whether s is the partitioning ps (checked by
// oauth.CheckPartitions).
func (s *Set) Is(ps []oauth.Partition) bool {
	if len(ps) != len(s.byDomain) {
		return false
	}
	for _, p := range ps {
		if s.byDomain[p.Domain] != Default+"_"+p.Name {
			return false
		}
	}
	return true
}

// Same reports whether s and o put every domain's tokens in the same
// table.
func (s *Set) Same(o *Set) bool { return maps.Equal(s.byDomain, o.byDomain) }

// String is s as --token-partitioning gives it (CORP:a,PARTNERS:b), or
// "" when it has no partitions.
func (s *Set) String() string {
	var out []string
	for _, table := range s.Tables[1:] {
		out = append(out, s.Domain(table)+":"+strings.TrimPrefix(table, Default+"_"))
	}
	return strings.Join(out, ",")
}

// Domain returns the partition whose table is table ("" for Default).
func (s *Set) Domain(table string) string {
	for d, t := range s.byDomain {
		if t == table {
			return d
		}
	}
	return ""
}

// All is a FROM item for every token of every partition.
func (s *Set) All() string {
	return "(SELECT * FROM " + strings.Join(s.Tables, " UNION ALL SELECT * FROM ") + ")"
}

// AllOrDefault is All, or the default table itself when there are no
// partitions.
func (s *Set) AllOrDefault() string {
	if !s.Partitioned() {
		return Default
	}
	return s.All()
}

// On returns q, whose {tokens} stands for a token table, for table.
func On(q, table string) string { return strings.ReplaceAll(q, "{tokens}", table) }

// Query runs a query of one text column on a store's connection or
// transaction; its parameters are $1, $2… (which SQLite reads too).
type Query func(query string, args ...any) ([]string, error)

// Read reads the partitioning a database holds.
func Read(q Query) (*Set, error) {
	rows, err := q(`SELECT domain || ' ' || name FROM token_partitions ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("load token partitions: %w", err)
	}
	s := New()
	for _, r := range rows {
		domain, name, _ := strings.Cut(r, " ")
		s.Add(domain, name)
	}
	if s.Partitioned() {
		some, err := q(`SELECT domain FROM token_forwards LIMIT 1`)
		if err != nil {
			return nil, fmt.Errorf("load token partitions: %w", err)
		}
		s.Forwards = len(some) > 0
	}
	return s, nil
}

// forwardedTable is the table the unmarked token hashing to h was moved
// to, or "" for none or Default.
func (s *Set) forwardedTable(q Query, h oauth.Hash) (string, error) {
	if !s.Forwards {
		return "", nil
	}
	domains, err := q(`SELECT domain FROM token_forwards WHERE hash = $1`, h[:])
	if err != nil {
		return "", fmt.Errorf("forwarded token: %w", err)
	}
	if len(domains) == 0 {
		return "", nil
	}
	if t := s.Table(domains[0]); t != Default {
		return t, nil
	}
	return "", nil
}

// HashTable returns the table a write on the token hashing to h goes to:
// that of the partition ctx names (oauth.PartitionFrom), else, for an
// unmarked token, the one it was moved to, else Default.
func (s *Set) HashTable(ctx context.Context, q Query, h oauth.Hash) (string, error) {
	if domain := oauth.PartitionFrom(ctx); domain != "" {
		return s.Table(domain), nil
	}
	if t, err := s.forwardedTable(q, h); t != "" || err != nil {
		return t, err
	}
	return Default, nil
}

// Lookup runs find on the table of the partition ctx names; an unmarked
// token (hashing to h) that find does not find in the default table
// (missing says so of its error) is looked for where it was moved. It
// returns the partition the token was found in.
func (s *Set) Lookup(ctx context.Context, q Query, h oauth.Hash, missing func(error) bool, find func(table string) error) (string, error) {
	domain := oauth.PartitionFrom(ctx)
	table := s.Table(domain)
	err := find(table)
	if domain == "" && missing(err) {
		moved, ferr := s.forwardedTable(q, h)
		if ferr != nil {
			return "", ferr
		}
		if moved != "" {
			table, err = moved, find(moved)
		}
	}
	return s.Domain(table), err
}

// Sum runs fn on every partition's table and adds up what it returns,
// stopping at an error.
func (s *Set) Sum(fn func(table string) (int64, error)) (int64, error) {
	var total int64
	for _, t := range s.Tables {
		n, err := fn(t)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Tx is a store's transaction as Change needs it: what differs between
// the dialects.
type Tx struct {
	// Query and Exec run statements in the transaction.
	Query Query
	Exec  func(query string) error
	// Columns is the query of a table's columns, in order ($1: the table).
	Columns string
	// CopyTokens makes table a copy of Default: columns, constraints,
	// indexes, foreign keys and triggers.
	CopyTokens func(table string) error
	// IssueCountOff returns the statements that switch table's
	// issue-count trigger off, and back on: a moved token was counted when
	// it was issued.
	IssueCountOff func(table string) (off, on []string, err error)
}

// move moves the rows of from matching where to to, with new ids, with
// to's issue-count trigger off.
func (tx Tx) move(columns []string, from, to, where string) error {
	off, on, err := tx.IssueCountOff(to)
	if err != nil {
		return fmt.Errorf("move tokens to %s: %w", to, err)
	}
	cols := strings.Join(slices.DeleteFunc(slices.Clone(columns), func(c string) bool { return c == "id" }), ", ")
	for _, q := range slices.Concat(off, []string{
		`INSERT INTO ` + to + ` (` + cols + `) SELECT ` + cols + ` FROM ` + from + ` WHERE ` + where + ` ORDER BY id`,
		`DELETE FROM ` + from + ` WHERE ` + where}, on) {
		if err := tx.Exec(q); err != nil {
			return fmt.Errorf("move tokens from %s to %s: %w", from, to, err)
		}
	}
	return nil
}

// Change runs Change in the transaction that inTx opens and, once that has
// committed, uses the partitioning it made.
func (c *Current) Change(ps []oauth.Partition, inTx func(change func(Tx) error) error) error {
	var next *Set
	err := inTx(func(tx Tx) (err error) {
		next, err = Change(tx, ps)
		return err
	})
	if err != nil {
		return fmt.Errorf("token partitioning: %w", err)
	}
	c.Store(next)
	return nil
}

// Change makes the partitioning of tx's database ps (checked by
// oauth.CheckPartitions first) and returns it, as the database holds it
// once tx commits. It makes the table of a new
// partition and moves its domain's tokens there, and moves the tokens of a
// partition no longer wanted back to Default, dropping its table. Tokens
// issued without a marker that move to a partition get token_forwards
// rows; those of a partition removed lose them.
func Change(tx Tx, ps []oauth.Partition) (*Set, error) {
	ps, err := oauth.CheckPartitions(ps)
	if err != nil {
		return nil, err
	}
	cur, err := Read(tx.Query)
	if err != nil {
		return nil, err
	}
	if err := apply(tx, cur, ps); err != nil {
		return nil, err
	}
	return Read(tx.Query)
}

func apply(tx Tx, cur *Set, ps []oauth.Partition) error {
	want := map[string]string{}
	for _, p := range ps {
		want[p.Domain] = Default + "_" + p.Name
	}
	columns, err := tx.Query(tx.Columns, Default)
	if err != nil {
		return fmt.Errorf("columns of tokens: %w", err)
	}
	for domain, table := range cur.byDomain {
		if want[domain] == table {
			if cols, err := tx.Query(tx.Columns, table); err != nil {
				return fmt.Errorf("columns of %s: %w", table, err)
			} else if !slices.Equal(cols, columns) {
				return fmt.Errorf("token partition %s: its columns are not those of tokens (a migration changed tokens): turn its partitioning off, then on", table)
			}
			continue
		}
		if err := tx.move(columns, table, Default, "true"); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM token_forwards WHERE domain = ` + quote(domain),
			`DELETE FROM token_partitions WHERE domain = ` + quote(domain), `DROP TABLE ` + table} {
			if err := tx.Exec(q); err != nil {
				return fmt.Errorf("remove token partition %s: %w", table, err)
			}
		}
	}
	for _, p := range ps {
		table := want[p.Domain]
		if cur.byDomain[p.Domain] != table {
			if err := tx.CopyTokens(table); err != nil {
				return err
			}
			if err := tx.Exec(`INSERT INTO token_partitions (domain, name) VALUES (` + quote(p.Domain) + `, ` + quote(p.Name) + `)`); err != nil {
				return fmt.Errorf("add token partition %s: %w", table, err)
			}
		}
		// At every start: the domain's tokens still in the default table
		// (all of them when the partition is new) move.
		of := `user_id IN (SELECT su.user_id FROM user_store_users su JOIN user_stores s ON s.id = su.store_id
			WHERE upper(s.domain) = ` + quote(p.Domain) + `)`
		if err := tx.Exec(`INSERT INTO token_forwards (hash, domain)
			SELECT access_hash, ` + quote(p.Domain) + ` FROM tokens WHERE partition IS NULL AND ` + of + `
			UNION ALL SELECT refresh_hash, ` + quote(p.Domain) + ` FROM tokens WHERE partition IS NULL AND refresh_hash IS NOT NULL AND ` + of + `
			ON CONFLICT DO NOTHING`); err != nil {
			return fmt.Errorf("forward moved tokens: %w", err)
		}
		if err := tx.move(columns, Default, table, of); err != nil {
			return err
		}
	}
	return nil
}

// StaleForwards deletes the token_forwards rows of tokens gone from every
// partition.
func (s *Set) StaleForwards() string {
	return `DELETE FROM token_forwards WHERE NOT EXISTS (SELECT 1 FROM ` + s.All() + ` t
		WHERE t.access_hash = token_forwards.hash) AND NOT EXISTS (SELECT 1 FROM ` + s.All() + ` t
		WHERE t.refresh_hash = token_forwards.hash)`
}

// quote is a SQL string literal of s (a domain or name, checked by
// oauth.CheckPartitions before it was stored).
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
