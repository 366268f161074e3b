package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apistore/apistore/portal"
)

// drainEvery is how often the recorder takes the calls queued. It does not
// wait on the queue itself: a goroutine waiting on a channel is woken by
// every send, and under load that was a wake-up of the scheduler, often of
// another thread, for every gateway call.
const drainEvery = 10 * time.Millisecond

// minQueue is the fewest calls the queue holds: at 20,000 calls a second,
// half a second's, well beyond drainEvery's.
const minQueue = 10_000

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
	r := &recorder{calls: make(chan portal.Usage, max(2*batch, minQueue)), write: write, prune: prune, every: every, batch: batch,
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
	drain := time.NewTicker(min(drainEvery, r.every))
	defer drain.Stop()
	// take takes the calls queued so far (this goroutine alone receives,
	// so they are there), not those queued meanwhile: a database slower
	// than the calls must not keep it from stopping.
	take := func() {
		for n := len(r.calls); n > 0; n-- {
			if buf = append(buf, <-r.calls); len(buf) >= r.batch {
				flush()
			}
		}
	}
	for {
		select {
		case <-drain.C:
			take()
		case <-tick.C:
			take()
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
