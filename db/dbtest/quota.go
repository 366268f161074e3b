package dbtest

import (
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/portal"
)

func testQuota(t *testing.T, s *suite) {
	k := portal.QuotaKey{AppID: 1, APIID: 2, KeyType: "PRODUCTION"}
	w0 := t0.Truncate(time.Minute)
	w1, w2 := w0.Add(time.Minute), w0.Add(2*time.Minute)

	t.Run("a window grants up to its limit; a new one starts afresh, an older one counts against the newest", func(t *testing.T) {
		d := s.store(t)
		for _, st := range []struct {
			name          string
			key           portal.QuotaKey
			window        time.Time
			want, granted int
		}{
			{"the first calls", k, w0, 3, 3},
			{"more than is left", k, w0, 3, 2},
			{"the window spent", k, w0, 1, 0},
			{"another key type counts apart", portal.QuotaKey{AppID: 1, APIID: 2, KeyType: "SANDBOX"}, w0, 5, 5},
			{"another API counts apart", portal.QuotaKey{AppID: 1, APIID: 3, KeyType: "PRODUCTION"}, w0, 1, 1},
			{"another application counts apart", portal.QuotaKey{AppID: 4, APIID: 2, KeyType: "PRODUCTION"}, w0, 1, 1},
			{"the next window", k, w1, 4, 4},
			{"a lagging node's older window counts against the newest", k, w0, 2, 1},
			{"and finds it spent", k, w0, 1, 0},
			{"a window later still starts afresh", k, w2, 1, 1},
			{"asking for nothing", k, w2, 0, 0},
		} {
			got, err := d.TakeQuota(t.Context(), st.key, st.window, st.want, 5)
			if err != nil || got != st.granted {
				t.Errorf("%s: granted %d, %v; want %d", st.name, got, err, st.granted)
			}
		}
	})

	t.Run("concurrent takes on two nodes never pass the limit", func(t *testing.T) {
		d, again := s.open(t)
		handles := []db.Store{d, again(t)}
		const limit = 20
		granted := make([]int, 24)
		errs := make([]error, len(granted))
		together(len(granted), func(i int) {
			granted[i], errs[i] = handles[i%2].TakeQuota(t.Context(), k, w0, 1+i%3, limit)
		})
		total := 0
		for i, g := range granted {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if g < 0 || g > 1+i%3 {
				t.Errorf("caller %d asked for %d and got %d", i, 1+i%3, g)
			}
			total += g
		}
		if total != limit {
			t.Errorf("%d calls granted in all, want the limit %d (more were asked for)", total, limit)
		}
	})

	t.Run("DeleteQuotasBefore forgets the windows that started before", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		old, current := portal.QuotaKey{AppID: 1, APIID: 1, KeyType: "PRODUCTION"}, portal.QuotaKey{AppID: 2, APIID: 1, KeyType: "PRODUCTION"}
		for _, take := range []struct {
			key    portal.QuotaKey
			window time.Time
		}{{old, w0}, {current, w1}} {
			if got, err := d.TakeQuota(ctx, take.key, take.window, 5, 5); err != nil || got != 5 {
				t.Fatalf("take: %d, %v", got, err)
			}
		}
		if n, err := d.DeleteQuotasBefore(ctx, w1); err != nil || n != 1 {
			t.Errorf("DeleteQuotasBefore: %d, %v; want 1", n, err)
		}
		if got, err := d.TakeQuota(ctx, old, w0, 5, 5); err != nil || got != 5 {
			t.Errorf("the forgotten window: granted %d, %v; want a fresh count", got, err)
		}
		if got, err := d.TakeQuota(ctx, current, w1, 5, 5); err != nil || got != 0 {
			t.Errorf("the kept window: granted %d, %v; want it still spent", got, err)
		}
		if n, err := d.DeleteQuotasBefore(ctx, w0); err != nil || n != 0 {
			t.Errorf("nothing older: %d, %v", n, err)
		}
	})
}
