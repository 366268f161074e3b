package handlers

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apistore/apistore/portal"
)

// Failed log-ins allowed per username, per consumer key and per client
// address within LoginLockout of each other; one more and log-ins (store
// log-ins, the password grant, client authentication at /token, /revoke and
// /introspect) for that name, key or address are refused, without checking
// the password or secret, until LoginLockout has passed since the last
// failure. The address limit is higher because people share addresses; the
// key limit too, because consumer keys are not secret (they appear in
// /authorize URLs), so anyone can spend a key's failures and lock its
// owner out.
const (
	userFailureLimit   = 5
	clientFailureLimit = 10
	addrFailureLimit   = 20
	// signupLimit is how many accounts one address may sign up within
	// LoginLockout of each other: each costs an argon2id hash, and a
	// flood of accounts is spam. People behind one address sign up far
	// more slowly than that.
	signupLimit = 10
	// resetRequestLimit is how many password resets one address may ask
	// for within LoginLockout of each other, and resetMailLimit how many
	// links one account is sent: each request may mail someone, and a
	// mailbox must not be flooded with links.
	resetRequestLimit = 10
	resetMailLimit    = 3
	// LoginLockout is how long a lockout lasts, and how long a failure
	// counts.
	LoginLockout = 15 * time.Minute
	// reservationLease bounds how long a password check holds its place: a
	// node that died during one does not hold it for long.
	reservationLease = 15 * time.Second
	// pollEvery is how often an attempt waiting for room looks again, for
	// the checks under way on other nodes, which cannot wake it.
	pollEvery = 20 * time.Millisecond
	// maxQueueWait bounds how long an attempt waits for room, past the
	// lease of a dead node's reservations; then it is refused for a second
	// (429), rather than hold its request for ever.
	maxQueueWait = reservationLease + 5*time.Second
)

// loginLimiter counts failed log-ins per username, address and consumer
// key. The counts live in the store (LoginCounters), so every node of a
// cluster shares them, and a restart forgives no one.
type loginLimiter struct {
	store LoginCounters
	now   func() time.Time
	mu    sync.Mutex
	// queue holds this node's attempts waiting for room, oldest first. An
	// attempt goes ahead only when no older one waits under any of its
	// keys, so a newcomer cannot overtake those waiting and each is served
	// in turn.
	queue []*queuedAttempt
	// changed is closed, and replaced, when a reservation of this node ends
	// or the queue moves: the waiting attempts look again.
	changed chan struct{}
}

// queuedAttempt is an attempt waiting in reserve.
type queuedAttempt struct{ keys []string }

// reservation is a password check's place under its counters (id 0: none).
type reservation struct{ id int64 }

func newLoginLimiter(s LoginCounters, now func() time.Time) *loginLimiter {
	return &loginLimiter{store: s, now: now, changed: make(chan struct{})}
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

// resetLimiterKey counts an address's requests for password resets, as
// signupLimiterKey counts sign-ups; resetMailKey counts the reset links
// mailed to an account (any case: usernames are case-insensitive).
func resetLimiterKey(addr string) string { return "r:" + addressBlock(addr) }

func resetMailKey(username string) string { return "m:" + strings.ToLower(username) }

// UnlockKeys are the counters an unlock clears (apistore user unlock): a
// username's failed log-ins and the reset links mailed to it, and an
// address's failed log-ins, sign-ups and reset requests (an IPv6 address
// counts with its /64). Either may be "".
func UnlockKeys(username, address string) []string {
	var keys []string
	if username != "" {
		userKey, _ := limiterKeys(username, "")
		keys = append(keys, userKey, resetMailKey(username))
	}
	if address != "" {
		_, addrKey := limiterKeys("", address)
		keys = append(keys, addrKey, signupLimiterKey(address), resetLimiterKey(address))
	}
	return keys
}

func limitFor(key string) int {
	switch key[:2] {
	case "a:":
		return addrFailureLimit
	case "c:":
		return clientFailureLimit
	case "s:":
		return signupLimit
	case "r:":
		return resetRequestLimit
	case "m:":
		return resetMailLimit
	}
	return userFailureLimit
}

// wait returns how long log-ins under any of keys stay refused (0: allowed).
func (l *loginLimiter) wait(ctx context.Context, keys ...string) (time.Duration, error) {
	wait, _, err := l.check(ctx, keys...)
	return wait, err
}

// check is wait that also returns the keys with failures counted, those a
// success has to clear (see succeed).
func (l *loginLimiter) check(ctx context.Context, keys ...string) (wait time.Duration, failing []string, err error) {
	now := l.now()
	counts, err := l.store.LoginCounts(ctx, keys, now)
	if err != nil {
		return 0, nil, err
	}
	for _, c := range counts {
		if c.Failures > 0 {
			failing = append(failing, c.Key)
		}
	}
	return lockedFor(counts, now), failing, nil
}

// LockedFor is how long the longest lockout among counts lasts from now
// (0: none), for the admin commands.
func LockedFor(counts []portal.LoginCount, now time.Time) time.Duration {
	return lockedFor(counts, now)
}

// lockedFor is how long the longest lockout among counts lasts from now.
func lockedFor(counts []portal.LoginCount, now time.Time) time.Duration {
	var longest time.Duration
	for _, c := range counts {
		if c.Failures >= limitFor(c.Key) {
			longest = max(longest, c.Last.Add(LoginLockout).Sub(now))
		}
	}
	return longest
}

// haveRoom reports whether one more attempt could fail under every counter
// without going past its limit.
func haveRoom(counts []portal.LoginCount, now time.Time) bool {
	for _, c := range counts {
		n := c.Failures
		if now.Sub(c.Last) >= LoginLockout {
			n = 0
		}
		if n+c.Pending >= limitFor(c.Key) {
			return false
		}
	}
	return true
}

// reserve is wait for an attempt that checks a password: when allowed, it
// reserves the attempt's place under every key until settle, and while the
// failures and reservations of a key (on any node) reach its limit, it
// waits for one of them to end. Without it, concurrent guesses would all
// pass wait before the first of them failed: a burst of requests checked
// any number of passwords. A reservation (wait 0) must be settled.
func (l *loginLimiter) reserve(ctx context.Context, keys ...string) (reservation, time.Duration, error) {
	me := &queuedAttempt{keys: keys}
	l.mu.Lock()
	l.queue = append(l.queue, me)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.queue = slices.DeleteFunc(l.queue, func(q *queuedAttempt) bool { return q == me })
		l.wake() // the next in line may go
		l.mu.Unlock()
	}()
	giveUp := time.Now().Add(maxQueueWait)
	for {
		if time.Now().After(giveUp) {
			return reservation{}, time.Second, nil
		}
		l.mu.Lock()
		ahead := l.queuedBefore(me, keys)
		changed := l.changed
		l.mu.Unlock()
		if !ahead {
			now := l.now()
			var wait time.Duration
			id, _, err := l.store.ReserveLogin(ctx, keys, now, now.Add(reservationLease), func(counts []portal.LoginCount) bool {
				wait = lockedFor(counts, now)
				return wait <= 0 && haveRoom(counts, now)
			})
			switch {
			case err != nil:
				return reservation{}, 0, err
			case wait > 0:
				return reservation{}, wait, nil
			case id != 0:
				return reservation{id: id}, 0, nil
			}
		}
		timer := time.NewTimer(pollEvery)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return reservation{}, 0, ctx.Err()
		}
		timer.Stop()
	}
}

// wake tells the waiting attempts to look again; l.mu is held.
func (l *loginLimiter) wake() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// queuedBefore reports whether an attempt queued before me waits under one
// of keys.
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

// settle ends a reservation (the zero one: none) and counts a failure under
// each of failed; it returns the keys this failure locked (those that just
// reached their limit), for the audit trail.
func (l *loginLimiter) settle(ctx context.Context, r reservation, failed ...string) (locked []string, err error) {
	now := l.now()
	counts, err := l.store.SettleLogin(ctx, r.id, failed, now, now.Add(-LoginLockout))
	if r.id != 0 {
		l.mu.Lock()
		l.wake()
		l.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		if c.Failures == limitFor(c.Key) {
			locked = append(locked, c.Key)
		}
	}
	return locked, nil
}

// succeed clears the failures of a key (the username that just logged in).
func (l *loginLimiter) succeed(ctx context.Context, key string) error {
	return l.store.ClearLoginFailures(ctx, key)
}
