package db

import (
	"context"
	"database/sql"
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

func (d *DB) startWriter() {
	d.jobs = make(chan writeJob, maxBatch)
	d.writerDone = make(chan struct{})
	go d.writeLoop()
}

// stopWriter lets the jobs already queued finish, then ends the writer.
func (d *DB) stopWriter() {
	close(d.jobs)
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
	select {
	case d.jobs <- writeJob{fn, done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-done
}
