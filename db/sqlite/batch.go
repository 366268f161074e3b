package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Group commit: the token endpoint's writes (new tokens, refresh rotations,
// code redemptions) go to one writer goroutine, which runs every job waiting
// at that moment in one transaction. Each caller still returns only after
// the transaction holding its job has committed, but a burst of N requests
// costs one commit instead of N. Each job runs inside a savepoint, so one
// failing job is rolled back alone.

// maxBatch bounds a transaction's jobs, so a commit never waits long.
const maxBatch = 128

const (
	savepointJob = `SAVEPOINT job`
	rollbackJob  = `ROLLBACK TO job`
	releaseJob   = `RELEASE job`
)

type writeJob struct {
	fn   func(*sql.Tx) error
	done chan error
}

// ErrClosed is the error of a write asked for once Close has begun: during
// a slow shutdown, a request still in flight gets it instead of a panic.
var ErrClosed = errors.New("the database is closed")

func (d *DB) startWriter() {
	d.jobs = make(chan writeJob, maxBatch)
	d.writerDone = make(chan struct{})
	go d.writeLoop()
}

// stopWriter lets the jobs already queued finish, then ends the writer.
// Writes asked for afterwards get ErrClosed.
func (d *DB) stopWriter() {
	d.jobsMu.Lock()
	closed := d.jobsClosed
	d.jobsClosed = true
	if !closed {
		close(d.jobs)
	}
	d.jobsMu.Unlock()
	<-d.writerDone
}

func (d *DB) writeLoop() {
	defer close(d.writerDone)
	batch := make([]writeJob, 0, maxBatch)
	for job := range d.jobs {
		batch = append(batch[:0], job)
	fill:
		for len(batch) < maxBatch {
			select {
			case j, ok := <-d.jobs:
				if !ok {
					break fill
				}
				batch = append(batch, j)
			default:
				break fill
			}
		}
		d.runBatch(batch)
	}
}

func (d *DB) runBatch(batch []writeJob) {
	errs := make([]error, len(batch))
	err := d.tx(context.Background(), func(tx *sql.Tx) error {
		if len(batch) == 1 {
			errs[0] = batch[0].fn(tx)
			return errs[0]
		}
		for i, j := range batch {
			if _, err := d.txExec(tx, savepointJob); err != nil {
				return err
			}
			if errs[i] = j.fn(tx); errs[i] != nil {
				if _, err := d.txExec(tx, rollbackJob); err != nil {
					return err
				}
			}
			if _, err := d.txExec(tx, releaseJob); err != nil {
				return err
			}
		}
		return nil
	})
	for i, j := range batch {
		if err != nil && errs[i] == nil {
			errs[i] = fmt.Errorf("commit: %w", err)
		}
		j.done <- errs[i]
	}
}

// write runs fn in the writer's next transaction and returns fn's error, or
// the commit's, once that transaction has ended. fn must use only tx.
func (d *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	done := make(chan error, 1)
	// The read lock keeps the channel open while the job is handed over;
	// the writer goroutine goes on taking jobs until it is closed, so
	// stopWriter waits at most for the hand-overs under way.
	d.jobsMu.RLock()
	if d.jobsClosed {
		d.jobsMu.RUnlock()
		return ErrClosed
	}
	select {
	case d.jobs <- writeJob{fn, done}:
	case <-ctx.Done():
		d.jobsMu.RUnlock()
		return ctx.Err()
	}
	d.jobsMu.RUnlock()
	return <-done
}
