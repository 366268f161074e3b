package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// loginLock is the first key of the advisory locks ReserveLogin takes per
// counter ("logn" in ASCII).
const loginLock int32 = 0x6c6f676e

// lockKey is an advisory lock's second key for a name. Two names may share
// one: they then take turns when they need not, which is harmless.
func lockKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

// byteKeys converts counters' keys for their BYTEA columns (migration 0050).
func byteKeys(keys []string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

// LoginCounts returns the counters of keys, in their order; a counter never
// seen has zero counts, and reservations expired by now are not counted.
func (d *DB) LoginCounts(ctx context.Context, keys []string, now time.Time) ([]portal.LoginCount, error) {
	counts, err := loginCounts(ctx, d.pool, keys, now)
	if err != nil {
		return nil, fmt.Errorf("login counts: %w", err)
	}
	return counts, nil
}

func loginCounts(ctx context.Context, q querier, keys []string, now time.Time) ([]portal.LoginCount, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT k.key, coalesce(c.failures, 0), coalesce(c.last_failure, 0),
		(SELECT count(*) FROM login_reservations r WHERE r.key = k.key AND r.expires_at > $1)
		FROM unnest($2::bytea[]) WITH ORDINALITY AS k (key, ord) LEFT JOIN login_counts c ON c.key = k.key
		ORDER BY k.ord`, now.UnixMilli(), byteKeys(keys))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rowmap.Read(rows, rowmap.KeyCount)
}

// ReserveLogin reads the counters of keys and, when admit accepts them,
// records a reservation under each key until expires, atomically across
// nodes: of concurrent callers, each sees the reservations of those before
// it. It returns the reservation's id (0 when admit refused) and the
// counters read.
//
// Callers take turns per counter: an advisory lock on each key, in one
// order (so two callers sharing keys cannot deadlock), held to the end of
// the transaction. The counts are read by a statement after the locks,
// whose snapshot therefore holds the reservations of every caller that
// held them before.
func (d *DB) ReserveLogin(ctx context.Context, keys []string, now, expires time.Time, admit func([]portal.LoginCount) bool) (int64, []portal.LoginCount, error) {
	locks := make([]int32, 0, len(keys))
	for _, k := range keys {
		locks = append(locks, lockKey(k))
	}
	slices.Sort(locks)
	locks = slices.Compact(locks)
	var id int64
	var counts []portal.LoginCount
	err := d.tx(ctx, func(tx pgx.Tx) error {
		id = 0
		if len(locks) > 0 {
			var b pgx.Batch
			for _, l := range locks {
				b.Queue(`SELECT pg_advisory_xact_lock($1, $2)`, loginLock, l)
			}
			if err := tx.SendBatch(ctx, &b).Close(); err != nil {
				return err
			}
		}
		var err error
		if counts, err = loginCounts(ctx, tx, keys, now); err != nil || !admit(counts) {
			return err
		}
		id = rand.Int64N(1<<62) + 1
		_, err = tx.Exec(ctx, `INSERT INTO login_reservations (id, key, expires_at)
			SELECT $1, k, $3 FROM unnest($2::bytea[]) AS k`, id, byteKeys(keys), expires.UnixMilli())
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("reserve log-in: %w", err)
	}
	return id, counts, nil
}

// SettleLogin ends a reservation (0: none) and counts a failure under each
// of failed: a counter whose last failure was at or before resetBefore
// starts again from one. It returns the counters of failed afterwards.
// Ending the reservation and counting the failure commit together, so a
// reader sees the guess either pending or counted.
func (d *DB) SettleLogin(ctx context.Context, id int64, failed []string, now, resetBefore time.Time) ([]portal.LoginCount, error) {
	var counts []portal.LoginCount
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if id != 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM login_reservations WHERE id = $1`, id); err != nil {
				return err
			}
		}
		for _, k := range failed {
			if _, err := tx.Exec(ctx, `INSERT INTO login_counts (key, failures, last_failure) VALUES ($1, 1, $2)
				ON CONFLICT (key) DO UPDATE SET last_failure = $2,
					failures = CASE WHEN login_counts.last_failure <= $3 THEN 1 ELSE login_counts.failures + 1 END`,
				[]byte(k), now.UnixMilli(), resetBefore.UnixMilli()); err != nil {
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
	if _, err := d.exec(ctx, `DELETE FROM login_counts WHERE key = $1`, []byte(key)); err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}

// DeleteStaleLoginCounts removes the reservations expired by now and the
// counters whose last failure was before before and that no reservation
// holds.
func (d *DB) DeleteStaleLoginCounts(ctx context.Context, before, now time.Time) (int64, error) {
	var n int64
	err := d.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		for _, q := range []struct {
			sql string
			arg int64
		}{
			{`DELETE FROM login_reservations WHERE expires_at <= $1`, now.UnixMilli()},
			{`DELETE FROM login_counts WHERE last_failure < $1 AND key NOT IN (SELECT key FROM login_reservations)`, before.UnixMilli()},
		} {
			tag, err := tx.Exec(ctx, q.sql, q.arg)
			if err != nil {
				return err
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete stale login counts: %w", err)
	}
	return n, nil
}
