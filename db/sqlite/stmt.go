package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// stmtCache keeps one prepared statement per query text for a pool, so the
// hot paths do not parse their SQL again on every request (parsing was a
// fifth of the token endpoint's CPU time).
type stmtCache struct {
	db *sql.DB
	m  sync.Map // query string → *sql.Stmt
}

func (c *stmtCache) get(query string) (*sql.Stmt, error) {
	if st, ok := c.m.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := c.db.Prepare(query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (c *stmtCache) close() error {
	var errs []error
	c.m.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(errs...)
}

// queryRow runs a cached read statement.
func (d *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := d.readStmts.get(query)
	if err != nil {
		return d.r.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// writeQueries are the group-commit writer's statements. They are prepared
// once at Open: inside the writer's transaction the single write connection
// is taken, so preparing there would wait for itself.
var writeQueries = []string{insertToken, rotateRefresh, redeemCode, insertProof, savepointJob, rollbackJob, releaseJob}

func (d *DB) prepareWrites() error {
	d.writeStmts = make(map[string]*sql.Stmt, len(writeQueries))
	for _, q := range writeQueries {
		st, err := d.w.Prepare(q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		d.writeStmts[q] = st
	}
	return nil
}

// txExec runs a write statement inside tx, prepared when it is one of
// writeQueries.
func (d *DB) txExec(tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st, ok := d.writeStmts[query]; ok {
		return tx.Stmt(st).Exec(args...)
	}
	return tx.Exec(query, args...)
}
