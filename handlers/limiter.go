package handlers

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Failed log-ins allowed per username, per consumer key and per client
// address within loginLockout of each other; one more and log-ins (store
// log-ins, the password grant, client authentication at /token, /revoke and
// /introspect) for that name, key or address are refused, without checking
// the password or secret, until loginLockout has passed since the last
// failure. The address limit is higher because people share addresses; the
// key limit too, because consumer keys are not secret (they appear in
// /authorize URLs), so anyone can spend a key's failures and lock its
// owner out.
const (
	userFailureLimit   = 5
	clientFailureLimit = 10
	addrFailureLimit   = 20
	// signupLimit is how many accounts one address may sign up within
	// loginLockout of each other: each costs an argon2id hash, and a
	// flood of accounts is spam. People behind one address sign up far
	// more slowly than that.
	signupLimit  = 10
	loginLockout = 15 * time.Minute
	// limiterMaxEntries bounds the memory a flood of made-up usernames can take.
	limiterMaxEntries = 100_000
)

// loginLimiter counts recent failed log-ins per username and per address.
// The counts live in memory: a restart forgives everyone, which is fine for
// a limit measured in minutes.
type loginLimiter struct {
	mu       sync.Mutex
	released sync.Cond // signalled when a reserved attempt ends or the queue moves
	failures map[string]failureCount
	// queue holds the attempts waiting for room, oldest first. An attempt
	// goes ahead only when no older one waits under any of its keys, so a
	// newcomer cannot overtake those waiting and each is served in turn.
	queue []*queuedAttempt
}

// queuedAttempt is an attempt waiting in reserve.
type queuedAttempt struct{ keys []string }

type failureCount struct {
	n       int
	last    time.Time
	pending int // password checks reserved under this key and not yet settled
}

func newLoginLimiter() *loginLimiter {
	l := &loginLimiter{failures: make(map[string]failureCount)}
	l.released.L = &l.mu
	return l
}

// limiterKeys are the counters a log-in attempt touches: its username (any
// case: usernames are case-insensitive) and its address.
func limiterKeys(username, addr string) (user, address string) {
	return "u:" + strings.ToLower(username), "a:" + addressBlock(addr)
}

// addressBlock is what a client address counts as: an IPv6 address counts
// with its whole /64, which one subscriber or host usually holds (RFC 6177),
// so that it cannot try 2^64 addresses 20 times each.
func addressBlock(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() || a.Is4In6() {
		return addr
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// clientLimiterKey is the counter of a consumer key's failed authentications.
func clientLimiterKey(consumerKey string) string { return "c:" + consumerKey }

// signupLimiterKey is the counter of an address's sign-ups: each one counts
// as a "failure" here (fail), and reserve holds back concurrent ones.
func signupLimiterKey(addr string) string { return "s:" + addressBlock(addr) }

func limitFor(key string) int {
	switch key[:2] {
	case "a:":
		return addrFailureLimit
	case "c:":
		return clientFailureLimit
	case "s:":
		return signupLimit
	}
	return userFailureLimit
}

// wait returns how long log-ins under any of keys stay refused (0: allowed).
func (l *loginLimiter) wait(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lockedFor(now, keys)
}

// reserve is wait for an attempt that checks a password: when allowed, it
// counts the attempt as pending under every key until release, and while
// the failures and pending attempts of a key reach its limit, it waits for
// one of them to end. Without it, concurrent guesses would all pass wait
// before the first of them failed: a burst of requests checked any number
// of passwords. release must follow a reservation (0 returned), after the
// attempt's fail or succeed.
func (l *loginLimiter) reserve(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var me *queuedAttempt
	defer func() { // runs before the unlock
		if me != nil {
			l.queue = slices.DeleteFunc(l.queue, func(q *queuedAttempt) bool { return q == me })
			l.released.Broadcast() // the next in line may go
		}
	}()
	for {
		if wait := l.lockedFor(now, keys); wait > 0 {
			return wait
		}
		if !l.queuedBefore(me, keys) && l.haveRoom(now, keys) {
			for _, k := range keys {
				f := l.failures[k]
				f.pending++
				l.failures[k] = f
			}
			return 0
		}
		if me == nil {
			me = &queuedAttempt{keys: keys}
			l.queue = append(l.queue, me)
		}
		l.released.Wait()
	}
}

// queuedBefore reports whether an attempt queued before me (before anyone
// when me is nil, a newcomer) waits under one of keys.
func (l *loginLimiter) queuedBefore(me *queuedAttempt, keys []string) bool {
	for _, q := range l.queue {
		if q == me {
			return false
		}
		for _, k := range q.keys {
			if slices.Contains(keys, k) {
				return true
			}
		}
	}
	return false
}

// haveRoom reports whether one more attempt could fail under every key
// without going past its limit.
func (l *loginLimiter) haveRoom(now time.Time, keys []string) bool {
	for _, k := range keys {
		f := l.failures[k]
		n := f.n
		if now.Sub(f.last) >= loginLockout {
			n = 0
		}
		if n+f.pending >= limitFor(k) {
			return false
		}
	}
	return true
}

// release ends a reservation.
func (l *loginLimiter) release(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		f, ok := l.failures[k]
		if !ok {
			continue
		}
		f.pending = max(f.pending-1, 0)
		if f.n == 0 && f.pending == 0 {
			delete(l.failures, k)
		} else {
			l.failures[k] = f
		}
	}
	l.released.Broadcast()
}

func (l *loginLimiter) lockedFor(now time.Time, keys []string) time.Duration {
	var longest time.Duration
	for _, k := range keys {
		f := l.failures[k]
		if f.n >= limitFor(k) {
			longest = max(longest, f.last.Add(loginLockout).Sub(now))
		}
	}
	return longest
}

// fail records a failed log-in under every key and returns the keys this
// failure locked (those that just reached their limit), for the audit trail.
func (l *loginLimiter) fail(now time.Time, keys ...string) (locked []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) >= limiterMaxEntries {
		l.forgetOld(now)
	}
	for _, k := range keys {
		f := l.failures[k]
		if now.Sub(f.last) >= loginLockout {
			f.n = 0
		}
		f.n++
		f.last = now
		l.failures[k] = f
		if f.n == limitFor(k) {
			locked = append(locked, k)
		}
	}
	return locked
}

// succeed clears the failures of a key (the username that just logged in).
func (l *loginLimiter) succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.failures[key]; f.pending > 0 {
		l.failures[key] = failureCount{pending: f.pending}
		return
	}
	delete(l.failures, key)
}

// forgetOld drops counts that no longer matter; if a flood is still too big,
// it drops the counts of addresses and consumer keys that are not locked,
// and only then starts over rather than grow without bound. Usernames' counts
// go last: failed client authentications are cheap to make from many
// addresses, and would otherwise wipe out the count of a username under
// attack; failed passwords cost an argon2id hash each and cannot fill the
// table within a lockout.
func (l *loginLimiter) forgetOld(now time.Time) {
	for k, f := range l.failures {
		if f.pending == 0 && now.Sub(f.last) >= loginLockout {
			delete(l.failures, k)
		}
	}
	if len(l.failures) < limiterMaxEntries {
		return
	}
	for k, f := range l.failures {
		if !strings.HasPrefix(k, "u:") && f.pending == 0 && f.n < limitFor(k) {
			delete(l.failures, k)
		}
	}
	if len(l.failures) >= limiterMaxEntries {
		clear(l.failures)
	}
}
