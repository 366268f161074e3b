package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/apistore/apistore/portal"
)

// DefaultLimits are WSO2's requests-per-minute limits of the tiers; a tier
// missing from the map (Unlimited) is not limited.
var DefaultLimits = map[string]int{"Gold": 5000, "Silver": 2000, "Bronze": 1000}

// throttle admits calls within their tier's limit per one-minute window,
// counted per application, API and key type (portal.QuotaKey) across every
// node that serves the database: the store keeps the count, and each node
// takes permits from it a chunk at a time and spends them locally. The
// store never grants more than the limit, so all nodes together admit at
// most the limit; permits a node took and did not spend before the window
// ended are lost, at most a chunk per node and window (quotaChunk).
type throttle struct {
	limits map[string]int
	take   func(ctx context.Context, k portal.QuotaKey, window time.Time, want, limit int) (int, error)
	mu     sync.Mutex
	local  map[portal.QuotaKey]*permits
}

// permits are a node's untaken calls of one key in one window.
type permits struct {
	mu     sync.Mutex // held while taking more from the store: one fetch at a time
	window time.Time
	left   int
	spent  bool // the store had none left for the window
}

// maxQuotaKeys bounds the local permits; past it, those of past windows go.
const maxQuotaKeys = 100_000

// quotaChunk is how many permits a node takes at a time: a hundredth of
// the limit, so the permits that go unspent cost at most 1% of the limit
// per node, and a store write serves a hundred calls.
func quotaChunk(limit int) int { return max(1, limit/100) }

func newThrottle(limits map[string]int, take func(context.Context, portal.QuotaKey, time.Time, int, int) (int, error)) *throttle {
	return &throttle{limits: limits, take: take, local: map[portal.QuotaKey]*permits{}}
}

// allow counts a call of k on its tier, whose limit per minute is limit
// (0 or less: unlimited); over the limit it says how long until the window
// ends. An error is the store's: the call is not admitted.
func (t *throttle) allow(ctx context.Context, k portal.QuotaKey, limit int, now time.Time) (ok bool, retryAfter time.Duration, err error) {
	if limit <= 0 {
		return true, 0, nil
	}
	start := now.Truncate(time.Minute)
	p := t.permitsOf(k, start)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.window.Equal(start) {
		p.window, p.left, p.spent = start, 0, false
	}
	if p.left == 0 && !p.spent {
		n, err := t.take(ctx, k, start, quotaChunk(limit), limit)
		if err != nil {
			return false, 0, err
		}
		p.left, p.spent = n, n == 0
	}
	if p.left == 0 {
		return false, start.Add(time.Minute).Sub(now), nil
	}
	p.left--
	return true, 0, nil
}

func (t *throttle) permitsOf(k portal.QuotaKey, window time.Time) *permits {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.local[k]
	if p == nil {
		if len(t.local) >= maxQuotaKeys {
			for key, old := range t.local {
				if old.mu.TryLock() {
					if old.window.Before(window) {
						delete(t.local, key)
					}
					old.mu.Unlock()
				}
			}
		}
		p = &permits{}
		t.local[k] = p
	}
	return p
}
