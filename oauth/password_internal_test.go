package oauth

import (
	"context"
	"errors"
	"testing"
	"time"
)

// holder takes a slot of q for source and keeps it until told to let go.
type holder struct {
	got, letGo chan struct{}
	err        chan error
}

func hold(q *passwordQueue, ctx context.Context, source string) *holder {
	h := &holder{got: make(chan struct{}), letGo: make(chan struct{}), err: make(chan error, 1)}
	go func() {
		if err := q.acquire(ctx, source); err != nil {
			h.err <- err
			return
		}
		close(h.got)
		<-h.letGo
		q.release(source)
	}()
	return h
}

func (h *holder) granted(wait time.Duration) bool {
	select {
	case <-h.got:
		return true
	case <-time.After(wait):
		return false
	}
}

// queued waits until q has n tickets waiting.
func queued(t *testing.T, q *passwordQueue, n int) {
	t.Helper()
	waitQueued(t, q, n, func(got int) bool { return got == n })
}

// waitQueued waits until the number of requests waiting in q satisfies
// ok; the test fails after 5 seconds, saying it never saw n waiting.
func waitQueued(t *testing.T, q *passwordQueue, n int, ok func(int) bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		q.mu.Lock()
		got := q.queued
		q.mu.Unlock()
		if ok(got) {
			return
		}
	}
	t.Fatalf("never %d waiting", n)
}

// TestPasswordQueueIsFair: while one source holds every slot and has more
// waiting, a slot that frees goes to another source's first request; then
// turns alternate, and each source's requests go in order.
func TestPasswordQueueIsFair(t *testing.T) {
	ctx := context.Background()
	q := newPasswordQueue(2, 32, 1024)
	a1, a2 := hold(q, ctx, "a"), hold(q, ctx, "a")
	if !a1.granted(time.Second) || !a2.granted(time.Second) {
		t.Fatal("free slots were not taken")
	}
	var flood []*holder
	for i := range 5 {
		flood = append(flood, hold(q, ctx, "a"))
		queued(t, q, i+1)
	}
	b := hold(q, ctx, "b")
	queued(t, q, 6)
	close(a1.letGo)
	if !b.granted(time.Second) {
		t.Fatal("the slot went to the flooding source's queue, not the newcomer")
	}
	if flood[0].granted(50 * time.Millisecond) {
		t.Fatal("a third slot appeared")
	}
	close(a2.letGo)
	if !flood[0].granted(time.Second) || flood[1].granted(50*time.Millisecond) {
		t.Fatal("a source's requests are not served in order")
	}
	close(b.letGo)
	close(flood[0].letGo)
	for _, h := range flood[1:] {
		if !h.granted(time.Second) {
			t.Fatal("the queue stalled")
		}
		close(h.letGo)
	}

	// With a single slot (one core) too: the source that just had it waits.
	q = newPasswordQueue(1, 32, 1024)
	a := hold(q, ctx, "a")
	a.granted(time.Second)
	next := hold(q, ctx, "a")
	queued(t, q, 1)
	c := hold(q, ctx, "c")
	queued(t, q, 2)
	close(a.letGo)
	if !c.granted(time.Second) || next.granted(50*time.Millisecond) {
		t.Fatal("one slot: the flooding source kept it")
	}
	close(c.letGo)
	if !next.granted(time.Second) {
		t.Fatal("one slot: the queue stalled")
	}
	close(next.letGo)
}

// TestPasswordQueueBounds: past the waiting allowed per source, or in all,
// acquire refuses at once; a request whose context ends leaves the queue.
func TestPasswordQueueBounds(t *testing.T) {
	ctx := context.Background()
	q := newPasswordQueue(1, 2, 3)
	busy := hold(q, ctx, "a")
	busy.granted(time.Second)
	hold(q, ctx, "a")
	hold(q, ctx, "a")
	queued(t, q, 2)
	if err := q.acquire(ctx, "a"); !errors.Is(err, ErrPasswordBusy) {
		t.Errorf("a third waiting for one source: %v, want ErrPasswordBusy", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	leaving := hold(q, cctx, "b")
	queued(t, q, 3)
	if err := q.acquire(ctx, "c"); !errors.Is(err, ErrPasswordBusy) {
		t.Errorf("a fourth waiting in all: %v, want ErrPasswordBusy", err)
	}
	cancel()
	if err := <-leaving.err; !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled wait: %v", err)
	}
	queued(t, q, 2)
	late := hold(q, ctx, "c")
	queued(t, q, 3)
	close(busy.letGo)
	if !late.granted(time.Second) {
		t.Error("after a cancelled wait the next source was not served")
	}
}

// TestPasswordSourcesShareTheWork: with real hashes, a check from one
// source while another has 20 or more waiting ends after one hash already running
// and its own, not after the 30: most of the flood's checks end after it.
// The test compares that order, not times, which a machine busy with other
// packages' tests stretches unevenly.
func TestPasswordSourcesShareTheWork(t *testing.T) {
	hash := mustHashPassword("a-password")
	ctx := context.Background()
	ended := make(chan time.Time, 30)
	for range 30 {
		go func() {
			_, _ = CheckPasswordFor(ctx, "flood", hash, "wrong")
			ended <- time.Now()
		}()
	}
	// Most of the flood waiting (all of it but the running ones, unless a
	// busy machine let some end before the last were queued).
	waitQueued(t, passwords, 20, func(got int) bool { return got >= 20 })
	ok, err := CheckPasswordFor(ctx, "other", hash, "a-password")
	otherEnded := time.Now()
	if !ok || err != nil {
		t.Fatalf("check: %v %v", ok, err)
	}
	after := 0
	for range 30 {
		if (<-ended).After(otherEnded) {
			after++
		}
	}
	t.Logf("the flood's checks that ended after the other source's: %d of 30", after)
	if after < 15 {
		t.Errorf("the other source's check ended after %d of the flood's 30; want it served before most of them", 30-after)
	}
}
