package handlers

import (
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
	loginLockout       = 15 * time.Minute
	// limiterMaxEntries bounds the memory a flood of made-up usernames can take.
	limiterMaxEntries = 100_000
)

// loginLimiter counts recent failed log-ins per username and per address.
// The counts live in memory: a restart forgives everyone, which is fine for
// a limit measured in minutes.
type loginLimiter struct {
	mu       sync.Mutex
	failures map[string]failureCount
}

type failureCount struct {
	n    int
	last time.Time
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{failures: make(map[string]failureCount)}
}

// limiterKeys are the counters a log-in attempt touches: its username (any
// case: usernames are case-insensitive) and its address.
func limiterKeys(username, addr string) (user, address string) {
	return "u:" + strings.ToLower(username), "a:" + addr
}

// clientLimiterKey is the counter of a consumer key's failed authentications.
func clientLimiterKey(consumerKey string) string { return "c:" + consumerKey }

func limitFor(key string) int {
	switch key[:2] {
	case "a:":
		return addrFailureLimit
	case "c:":
		return clientFailureLimit
	}
	return userFailureLimit
}

// wait returns how long log-ins under any of keys stay refused (0: allowed).
func (l *loginLimiter) wait(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	for _, k := range keys {
		f := l.failures[k]
		if f.n >= limitFor(k) {
			longest = max(longest, f.last.Add(loginLockout).Sub(now))
		}
	}
	return longest
}

// fail records a failed log-in under every key.
func (l *loginLimiter) fail(now time.Time, keys ...string) {
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
	}
}

// succeed clears the failures of a key (the username that just logged in).
func (l *loginLimiter) succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}

// forgetOld drops counts that no longer matter; if a flood is still too big,
// it starts over rather than grow without bound.
func (l *loginLimiter) forgetOld(now time.Time) {
	for k, f := range l.failures {
		if now.Sub(f.last) >= loginLockout {
			delete(l.failures, k)
		}
	}
	if len(l.failures) >= limiterMaxEntries {
		clear(l.failures)
	}
}
