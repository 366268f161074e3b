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
		_, addr := limiterKeys("", "2001:db8::"+strconv.Itoa(i))
		l.fail(now, addr, clientLimiterKey("made-up-"+strconv.Itoa(i)))
	}
	_, addr := limiterKeys("", "2001:db8::ffff")
	l.fail(now, addr) // over the bound: the table is pruned
	if len(l.failures) >= limiterMaxEntries {
		t.Fatalf("the table was not pruned: %d entries", len(l.failures))
	}
	l.fail(now, victim)
	if wait := l.wait(now, victim); wait != loginLockout {
		t.Fatalf("the victim's failures were forgotten: wait %v after %d failures", wait, userFailureLimit)
	}
}
