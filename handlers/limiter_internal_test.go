package handlers

import (
	"strconv"
	"testing"
	"time"
)

// TestLimiterFloodKeepsUsernameCounts: filling the limiter with failed
// client authentications from many addresses, which are cheap, does not
// forget the failures of a username under attack.
func TestLimiterFloodKeepsUsernameCounts(t *testing.T) {
	l := newLoginLimiter()
	now := time.Now()
	victim, _ := limiterKeys("alice", "192.0.2.1")
	for range userFailureLimit - 1 {
		l.fail(now, victim)
	}
	for i := 0; len(l.failures) < limiterMaxEntries; i++ {
		_, addr := limiterKeys("", "2001:db8:"+strconv.FormatInt(int64(i), 16)+"::1")
		l.fail(now, addr, clientLimiterKey("made-up-"+strconv.Itoa(i)))
	}
	_, addr := limiterKeys("", "2001:db9::1")
	l.fail(now, addr) // over the bound: the table is pruned
	if len(l.failures) >= limiterMaxEntries {
		t.Fatalf("the table was not pruned: %d entries", len(l.failures))
	}
	l.fail(now, victim)
	if wait := l.wait(now, victim); wait != loginLockout {
		t.Fatalf("the victim's failures were forgotten: wait %v after %d failures", wait, userFailureLimit)
	}
}

// TestAddressBlocks: IPv6 addresses count by /64, others one by one.
func TestAddressBlocks(t *testing.T) {
	l := newLoginLimiter()
	now := time.Now()
	for i := range addrFailureLimit {
		_, addr := limiterKeys("", "2001:db8:1:2:"+strconv.Itoa(i)+"::1")
		l.fail(now, addr)
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
		if locked := l.wait(now, addr) > 0; locked != tt.locked {
			t.Errorf("%s locked: %v, want %v", tt.addr, locked, tt.locked)
		}
	}
	for i := range addrFailureLimit {
		_, addr := limiterKeys("", "192.0.2."+strconv.Itoa(i+10))
		l.fail(now, addr)
	}
	if _, addr := limiterKeys("", "192.0.2.1"); l.wait(now, addr) > 0 {
		t.Error("IPv4 addresses were counted together")
	}
}

// TestReservationsInTurn: attempts waiting for room under a username are
// served in the order they came, so that none waits behind newcomers for
// ever.
func TestReservationsInTurn(t *testing.T) {
	for range 20 {
		l := newLoginLimiter()
		now := time.Now()
		user, addr := limiterKeys("alice", "192.0.2.1")
		for range userFailureLimit {
			if wait := l.reserve(now, user, addr); wait != 0 {
				t.Fatalf("reservation refused: %v", wait)
			}
		}
		done := make(chan string, 2)
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
		go func() { l.reserve(now, user, addr); done <- "first" }()
		queued(1)
		go func() { l.reserve(now, user, addr); done <- "second" }()
		queued(2)
		l.release(user, addr)
		if got := <-done; got != "first" {
			t.Fatalf("the %s attempt to wait went ahead", got)
		}
		l.release(user, addr)
		<-done
	}
}
