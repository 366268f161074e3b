package gateway

import (
	"sync"
	"time"
)

// DefaultLimits are WSO2's requests-per-minute limits of the tiers; a tier
// missing from the map (Unlimited) is not limited.
var DefaultLimits = map[string]int{"Gold": 5000, "Silver": 2000, "Bronze": 1000}

// throttle counts requests per subscription in fixed one-minute windows.
type throttle struct {
	limits map[string]int
	mu     sync.Mutex
	counts map[int64]*window
}

type window struct {
	start time.Time
	count int
}

func newThrottle(limits map[string]int) *throttle {
	return &throttle{limits: limits, counts: map[int64]*window{}}
}

// allow counts a request of a subscription on its tier; over the limit it
// says how long until the window ends.
func (t *throttle) allow(subscription int64, tier string, now time.Time) (ok bool, retryAfter time.Duration) {
	limit := t.limits[tier]
	if limit <= 0 {
		return true, 0
	}
	start := now.Truncate(time.Minute)
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.counts[subscription]
	if w == nil {
		w = &window{}
		t.counts[subscription] = w
	}
	if !w.start.Equal(start) {
		w.start, w.count = start, 0
	}
	if w.count >= limit {
		return false, start.Add(time.Minute).Sub(now)
	}
	w.count++
	return true, 0
}
