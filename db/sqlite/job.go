package sqlite

import (
	"context"
	"sync"
)

// jobLocks holds a mutex per job name, for RunAlone.
type jobLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (j *jobLocks) lock(name string) *sync.Mutex {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.locks == nil {
		j.locks = map[string]*sync.Mutex{}
	}
	if j.locks[name] == nil {
		j.locks[name] = &sync.Mutex{}
	}
	return j.locks[name]
}

// RunAlone runs fn unless this process is running the job of that name
// already, and reports whether fn ran. One server process serves a SQLite
// database (the admin commands run no jobs), so a lock in memory is enough;
// the jobs it guards only delete what has expired, which a second process
// doing the same could not spoil.
func (d *DB) RunAlone(ctx context.Context, job string, fn func(context.Context) error) (bool, error) {
	l := d.running.lock(job)
	if !l.TryLock() {
		return false, nil
	}
	defer l.Unlock()
	return true, fn(ctx)
}
