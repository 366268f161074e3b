package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// querier is a connection pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// LoginCounts returns the counters of keys, in their order; a counter never
// seen has zero counts, and reservations expired by now are not counted.
func (d *DB) LoginCounts(ctx context.Context, keys []string, now time.Time) ([]portal.LoginCount, error) {
	counts, err := loginCounts(ctx, d.r, keys, now)
	if err != nil {
		return nil, fmt.Errorf("login counts: %w", err)
	}
	return counts, nil
}

func loginCounts(ctx context.Context, q querier, keys []string, now time.Time) ([]portal.LoginCount, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT k.value, coalesce(c.failures, 0), coalesce(c.last_failure, 0),
		(SELECT count(*) FROM login_reservations r WHERE r.key = k.value AND r.expires_at > ?)
		FROM json_each(?) k LEFT JOIN login_counts c ON c.key = k.value ORDER BY k.key`, now.UnixMilli(), string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rowmap.Read(rows, rowmap.KeyCount)
}

// ReserveLogin reads the counters of keys and, when admit accepts them,
// records a reservation under each key until expires, atomically: of
// concurrent callers, each sees the reservations of those before it. It
// returns the reservation's id (0 when admit refused) and the counters read.
func (d *DB) ReserveLogin(ctx context.Context, keys []string, now, expires time.Time, admit func([]portal.LoginCount) bool) (int64, []portal.LoginCount, error) {
	var id int64
	var counts []portal.LoginCount
	err := d.write(ctx, func(tx *sql.Tx) error {
		id = 0
		var err error
		if counts, err = loginCounts(ctx, tx, keys, now); err != nil || !admit(counts) {
			return err
		}
		id = rand.Int64N(1<<62) + 1
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO login_reservations (id, key, expires_at) VALUES (?, ?, ?)`,
				id, k, expires.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("reserve log-in: %w", err)
	}
	return id, counts, nil
}

// SettleLogin ends a reservation (0: none) and counts a failure under each
// of failed: a counter whose last failure was at or before resetBefore
// starts again from one. It returns the counters of failed afterwards.
func (d *DB) SettleLogin(ctx context.Context, id int64, failed []string, now, resetBefore time.Time) ([]portal.LoginCount, error) {
	var counts []portal.LoginCount
	err := d.write(ctx, func(tx *sql.Tx) error {
		if id != 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM login_reservations WHERE id = ?`, id); err != nil {
				return err
			}
		}
		for _, k := range failed {
			if _, err := tx.ExecContext(ctx, `INSERT INTO login_counts (key, failures, last_failure) VALUES (?1, 1, ?2)
				ON CONFLICT (key) DO UPDATE SET last_failure = ?2,
					failures = CASE WHEN last_failure <= ?3 THEN 1 ELSE failures + 1 END`,
				k, now.UnixMilli(), resetBefore.UnixMilli()); err != nil {
				return err
			}
		}
		var err error
		counts, err = loginCounts(ctx, tx, failed, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("settle log-in: %w", err)
	}
	return counts, nil
}

// ClearLoginFailures forgets a counter's failures (its user just logged
// in); reservations under it stay.
func (d *DB) ClearLoginFailures(ctx context.Context, key string) error {
	if _, err := d.w.ExecContext(ctx, `DELETE FROM login_counts WHERE key = ?`, key); err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}

// DeleteStaleLoginCounts removes the reservations expired by now and the
// counters whose last failure was before before and that no reservation
// holds.
func (d *DB) DeleteStaleLoginCounts(ctx context.Context, before, now time.Time) (int64, error) {
	var n int64
	err := d.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []struct {
			sql string
			arg int64
		}{
			{`DELETE FROM login_reservations WHERE expires_at <= ?`, now.UnixMilli()},
			{`DELETE FROM login_counts WHERE last_failure < ? AND key NOT IN (SELECT key FROM login_reservations)`, before.UnixMilli()},
		} {
			res, err := tx.ExecContext(ctx, q.sql, q.arg)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete stale login counts: %w", err)
	}
	return n, nil
}
