package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apistore/apistore/portal"
)

// recorder writes usage rows in batches from its own goroutine, so that the
// proxy path only hands a value to a channel.
type recorder struct {
	calls   chan portal.Usage
	write   func(context.Context, []portal.Usage) error
	prune   func() // deletes calls older than the retention; run at start and hourly
	every   time.Duration
	batch   int
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}
	dropped atomic.Int64
}

func newRecorder(write func(context.Context, []portal.Usage) error, prune func(), every time.Duration, batch int) *recorder {
	r := &recorder{calls: make(chan portal.Usage, 2*batch), write: write, prune: prune, every: every, batch: batch,
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// observedWrite is write, timed for observe when it is set.
func observedWrite(write func(context.Context, []portal.Usage) error, observe func(int, time.Duration, error)) func(context.Context, []portal.Usage) error {
	if observe == nil {
		return write
	}
	return func(ctx context.Context, calls []portal.Usage) error {
		start := time.Now()
		err := write(ctx, calls)
		observe(len(calls), time.Since(start), err)
		return err
	}
}

// record queues a call; when the queue is full (the database cannot keep up)
// the call is counted as dropped rather than slowing the request.
func (r *recorder) record(u portal.Usage) {
	select {
	case r.calls <- u:
	default:
		r.dropped.Add(1)
	}
}

func (r *recorder) run() {
	defer close(r.done)
	r.prune()
	tick := time.NewTicker(r.every)
	defer tick.Stop()
	hourly := time.NewTicker(time.Hour)
	defer hourly.Stop()
	buf := make([]portal.Usage, 0, r.batch)
	flush := func() {
		if n := r.dropped.Swap(0); n > 0 {
			slog.Warn("gateway: usage queue full, calls not recorded", "dropped", n)
		}
		if len(buf) == 0 {
			return
		}
		if err := r.write(context.Background(), buf); err != nil {
			slog.Error("gateway: record usage", "calls", len(buf), "err", err)
		}
		buf = buf[:0]
	}
	for {
		select {
		case u := <-r.calls:
			if buf = append(buf, u); len(buf) >= r.batch {
				flush()
			}
		case <-tick.C:
			flush()
		case <-hourly.C:
			r.prune()
		case <-r.stop:
			for {
				select {
				case u := <-r.calls:
					buf = append(buf, u)
				default:
					flush()
					return
				}
			}
		}
	}
}

// close writes what is queued and stops; later calls only wait.
func (r *recorder) close() {
	r.stopped.Do(func() { close(r.stop) })
	<-r.done
}
