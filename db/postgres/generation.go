package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// generationTimeout bounds one read of the access generation. Callers wait
// no longer than their own context allows; this ends a read that nobody can
// wait for any more, such as one sent to a server that stopped answering,
// so that the next callers get a read of their own.
const generationTimeout = 5 * time.Second

// Generation reads the access generation (migration 0023): every change
// that a cache of validations could see bumps it by trigger, in the same
// transaction, whatever connection, process or node makes it, so two equal
// values mean nothing such was committed in between.
//
// The value returned comes from a read that started after the call began:
// a SELECT at PostgreSQL's read committed level sees every transaction
// whose commit had returned when it started, so a change committed
// anywhere before the call is always seen. When the database cannot be
// reached the answer is an error, never the last value read.
//
// That costs a round trip, so reads are shared: at most one is in flight
// per store. A caller that arrives while one is in flight does not take
// its answer, since that read may have started before the caller's call
// did; it waits for the next read, which starts as soon as the one in
// flight ends and answers every caller that arrived meanwhile. Under load,
// one round trip serves all the requests of a round trip's time, and no
// caller waits longer than two.
//
// LISTEN/NOTIFY cannot replace the read. A notification is delivered
// after its transaction commits, asynchronously, on another connection:
// a node that has heard nothing cannot tell whether nothing changed or
// the notification is still on its way, so "no news" never proves a
// cache fresh. Only a read that starts after the call does; and with one
// read per call batch there is nothing left for a notification to save.
func (d *DB) Generation(ctx context.Context) (uint64, error) {
	if d.closed.Load() {
		return 0, fmt.Errorf("read access generation: %w", ErrClosed)
	}
	return d.gen.get(ctx)
}

// generationReader shares reads of the access generation among callers.
type generationReader struct {
	pool *pgxpool.Pool   // one connection, for these reads only
	base context.Context // canceled at Close

	mu      sync.Mutex
	running *generationRead // the read in flight; nil when none
	next    *generationRead // the read to start when running ends; nil until a caller needs it

	reads      atomic.Int64 // reads sent, for tests
	beforeRead func()       // called before each read, when set (by tests)
}

// generationRead is one read and, once done is closed, its answer.
type generationRead struct {
	done chan struct{}
	n    uint64
	err  error
}

func (g *generationReader) get(ctx context.Context) (uint64, error) {
	g.mu.Lock()
	var r *generationRead
	if g.running == nil {
		r = &generationRead{done: make(chan struct{})}
		g.running = r
		go g.run(r)
	} else {
		if g.next == nil {
			g.next = &generationRead{done: make(chan struct{})}
		}
		r = g.next
	}
	g.mu.Unlock()
	select {
	case <-r.done:
		return r.n, r.err
	case <-ctx.Done():
		return 0, fmt.Errorf("read access generation: %w", ctx.Err())
	}
}

// run performs r, then the reads that callers asked for meanwhile, one
// after the other, until none is wanted. Each read is created under mu
// before its callers wait for it and is sent only once the previous one
// has ended, so it starts after every call that waits for it.
func (g *generationReader) run(r *generationRead) {
	for r != nil {
		r.n, r.err = g.read()
		close(r.done)
		g.mu.Lock()
		r, g.running, g.next = g.next, g.next, nil
		g.mu.Unlock()
	}
}

// read sends one read, on a context of its own: the callers sharing it
// come and go with their own.
func (g *generationReader) read() (uint64, error) {
	ctx, cancel := context.WithTimeout(g.base, generationTimeout)
	defer cancel()
	if g.beforeRead != nil {
		g.beforeRead()
	}
	var n int64
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		g.reads.Add(1)
		err = g.pool.QueryRow(ctx, `SELECT n FROM access_generation WHERE id = 1`).Scan(&n)
		// A connection the server dropped fails before anything is sent
		// (a restart, an idle timeout): one more try, on a new one.
		if err == nil || !pgconn.SafeToRetry(err) {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("read access generation: %w", err)
	}
	return uint64(n), nil
}
