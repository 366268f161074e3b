package handlers

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/fixture"
)

// fail counts a failure under keys, as settle does without a reservation.
func fail(t *testing.T, l *loginLimiter, keys ...string) []string {
	t.Helper()
	locked, err := l.settle(context.Background(), reservation{}, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return locked
}

func wait(t *testing.T, l *loginLimiter, keys ...string) time.Duration {
	t.Helper()
	w, err := l.wait(context.Background(), keys...)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestAddressBlocks: IPv6 addresses count by /64, others one by one.
func TestAddressBlocks(t *testing.T) {
	l := newLoginLimiter(fixture.DB(t), time.Now)
	for i := range addrFailureLimit {
		_, addr := limiterKeys("", "2001:db8:1:2:"+strconv.Itoa(i)+"::1")
		fail(t, l, addr)
	}
	for _, tt := range []struct {
		addr   string
		locked bool
	}{
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", true},
		{"2001:db8:1:3::1", false},
		{"192.0.2.1", false},
		{"::ffff:192.0.2.1", false},
	} {
		_, addr := limiterKeys("", tt.addr)
		if locked := wait(t, l, addr) > 0; locked != tt.locked {
			t.Errorf("%s locked: %v, want %v", tt.addr, locked, tt.locked)
		}
	}
	for i := range addrFailureLimit {
		_, addr := limiterKeys("", "192.0.2."+strconv.Itoa(i+10))
		fail(t, l, addr)
	}
	if _, addr := limiterKeys("", "192.0.2.1"); wait(t, l, addr) > 0 {
		t.Error("IPv4 addresses were counted together")
	}
}

// TestLimiterCountsAcrossNodes: two limiters on one store, as two nodes of
// a cluster: failures counted by one lock the other, a success on one
// forgives on both, a lockout ends after LoginLockout, and the password
// checks reserved on one leave the other no room.
func TestLimiterCountsAcrossNodes(t *testing.T) {
	d := fixture.DB(t)
	clock := fixture.NewClock(time.Now().Truncate(time.Millisecond)) // as stored
	a, b := newLoginLimiter(d, clock.Now), newLoginLimiter(d, clock.Now)
	ctx := context.Background()
	user, _ := limiterKeys("Alice", "192.0.2.1")
	for i := range userFailureLimit - 1 {
		node := []*loginLimiter{a, b}[i%2]
		if locked := fail(t, node, user); len(locked) != 0 {
			t.Fatalf("failure %d locked %v", i+1, locked)
		}
	}
	if w := wait(t, b, user); w != 0 {
		t.Fatalf("locked after %d failures: %v", userFailureLimit-1, w)
	}
	if locked := fail(t, a, user); len(locked) != 1 || locked[0] != user {
		t.Fatalf("the last failure locked %v", locked)
	}
	clock.Advance(time.Minute)
	if w := wait(t, b, user); w != LoginLockout-time.Minute {
		t.Fatalf("the other node's wait: %v", w)
	}
	clock.Advance(LoginLockout - time.Minute)
	if w := wait(t, b, user); w > 0 {
		t.Fatalf("still locked after the lockout: %v", w)
	}
	if err := a.succeed(ctx, user); err != nil {
		t.Fatal(err)
	}
	if w := wait(t, b, user); w != 0 {
		t.Fatalf("a log-in on one node did not forgive on the other: %v", w)
	}

	// Every place under the username taken on node a: node b waits until
	// one is given back, then goes.
	var held []reservation
	for range userFailureLimit {
		r, w, err := a.reserve(ctx, user)
		if err != nil || w != 0 {
			t.Fatalf("reserve: %v, %v", w, err)
		}
		held = append(held, r)
	}
	got := make(chan error, 1)
	go func() {
		r, w, err := b.reserve(ctx, user)
		if err == nil && w == 0 {
			_, err = b.settle(ctx, r)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("node b went ahead while node a held every place: %v", err)
	case <-time.After(5 * pollEvery):
	}
	if _, err := a.settle(ctx, held[0]); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node b never went ahead")
	}
	// The reservations of a node that died expire on their own: node a
	// holds every place again (four left from before and one more), and
	// never settles.
	if _, w, err := a.reserve(ctx, user); err != nil || w != 0 {
		t.Fatalf("reserve: %v, %v", w, err)
	}
	clock.Advance(reservationLease + time.Second)
	if r, w, err := b.reserve(ctx, user); err != nil || w != 0 || r.id == 0 {
		t.Fatalf("expired reservations still held the places: %v, %v", w, err)
	}
}

// TestReservationsInTurn: attempts waiting for room under a username are
// served in the order they came, so that none waits behind newcomers for
// ever.
func TestReservationsInTurn(t *testing.T) {
	d := fixture.DB(t)
	for i := range 10 {
		l := newLoginLimiter(d, time.Now)
		ctx := context.Background()
		user, addr := limiterKeys("alice"+strconv.Itoa(i), "192.0.2.1")
		var held []reservation
		for range userFailureLimit {
			r, w, err := l.reserve(ctx, user, addr)
			if err != nil || w != 0 {
				t.Fatalf("reservation refused: %v, %v", w, err)
			}
			held = append(held, r)
		}
		type result struct {
			name string
			r    reservation
		}
		done := make(chan result, 2)
		queued := func(n int) {
			for {
				l.mu.Lock()
				got := len(l.queue)
				l.mu.Unlock()
				if got == n {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
		attempt := func(name string) {
			r, _, err := l.reserve(ctx, user, addr)
			if err != nil {
				t.Error(err)
			}
			done <- result{name, r}
		}
		go attempt("first")
		queued(1)
		go attempt("second")
		queued(2)
		if _, err := l.settle(ctx, held[0]); err != nil {
			t.Fatal(err)
		}
		first := <-done
		if first.name != "first" {
			t.Fatalf("the %s attempt to wait went ahead", first.name)
		}
		if _, err := l.settle(ctx, held[1]); err != nil {
			t.Fatal(err)
		}
		second := <-done
		for _, r := range append(held[2:], first.r, second.r) {
			if _, err := l.settle(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
}
