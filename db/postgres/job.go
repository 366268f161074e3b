package postgres

import (
	"context"
	"fmt"
	"time"
)

// jobLock is the first key of RunAlone's advisory locks ("jobs" in ASCII).
const jobLock int32 = 0x6a6f6273

// unlockTimeout bounds the release of a job's lock after fn, whose context
// may have ended.
const unlockTimeout = 5 * time.Second

// RunAlone runs fn unless another process or node is running the job of
// that name, and reports whether fn ran. The job's lock is a session
// advisory lock held on a pooled connection set aside while fn runs (fn's
// own queries use others): PostgreSQL releases it when that connection
// ends, so a node that dies while running a job does not keep it locked.
// A connection lost while fn runs loses the lock too, and another node
// may start the job; the jobs it guards only delete what has expired,
// which two nodes doing at once could not spoil.
func (d *DB) RunAlone(ctx context.Context, job string, fn func(context.Context) error) (bool, error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("run %s: %w", job, err)
	}
	key := lockKey(job)
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, jobLock, key).Scan(&got); err != nil || !got {
		conn.Release()
		if err != nil {
			return false, fmt.Errorf("run %s: %w", job, err)
		}
		return false, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer cancel()
		var released bool
		if err := conn.QueryRow(uctx, `SELECT pg_advisory_unlock($1, $2)`, jobLock, key).Scan(&released); err != nil || !released {
			// The lock may still be held: the connection must not go back
			// to the pool with it.
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}()
	return true, fn(ctx)
}
