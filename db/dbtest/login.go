package dbtest

import (
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/portal"
)

// lockout is how long a failure counts in these tests, as the log-in
// limiter's LoginLockout does.
const lockout = 15 * time.Minute

func testLoginCounters(t *testing.T, s *suite) {
	t.Run("counters never seen are zero, in the order asked", func(t *testing.T) {
		d := s.store(t)
		keys := []string{"u:bob", "a:192.0.2.1", "c:KEY"}
		got := counts(t, d, keys, t0)
		for i, c := range got {
			if c != (portal.LoginCount{Key: keys[i]}) {
				t.Errorf("counter %d: %+v, want %q at zero", i, c, keys[i])
			}
		}
		if got, err := d.LoginCounts(t.Context(), nil, t0); err != nil || len(got) != 0 {
			t.Errorf("no keys: %+v, %v", got, err)
		}
	})

	t.Run("failures count up and start again once old enough", func(t *testing.T) {
		d := s.store(t)
		const k = "u:alice"
		for _, st := range []struct {
			name     string
			at       time.Time
			failures int
		}{
			{"first failure", t0, 1},
			{"second failure", t0.Add(time.Minute), 2},
			{"third failure", t0.Add(lockout), 3},
			{"a failure exactly a lockout after the last", t0.Add(2 * lockout), 1},
			{"the next", t0.Add(2*lockout + time.Second), 2},
			{"a failure long after", t0.Add(10 * lockout), 1},
		} {
			got, err := d.SettleLogin(t.Context(), 0, []string{k}, st.at, st.at.Add(-lockout))
			if err != nil || len(got) != 1 {
				t.Fatalf("%s: %+v, %v", st.name, got, err)
			}
			want := portal.LoginCount{Key: k, Failures: st.failures, Last: st.at}
			if !sameCount(got[0], want) {
				t.Errorf("%s: settled %+v, want %+v", st.name, got[0], want)
			}
			if read := counts(t, d, []string{k}, st.at); !sameCount(read[0], want) {
				t.Errorf("%s: read %+v, want %+v", st.name, read[0], want)
			}
		}
		if got := counts(t, d, []string{"u:bob"}, t0); got[0].Failures != 0 {
			t.Errorf("another counter counted alice's failures: %+v", got[0])
		}
	})

	t.Run("a reservation is pending until settled or expired", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		keys := []string{"u:alice", "a:192.0.2.1"}
		var seen []portal.LoginCount
		id, got, err := d.ReserveLogin(ctx, keys, t0, t0.Add(15*time.Second), func(c []portal.LoginCount) bool {
			seen = append([]portal.LoginCount(nil), c...)
			return true
		})
		if err != nil || id == 0 {
			t.Fatalf("ReserveLogin: id %d, %v", id, err)
		}
		if len(seen) != 2 || seen[0].Key != keys[0] || seen[1].Key != keys[1] || seen[0].Pending != 0 || len(got) != 2 || !sameCount(got[0], seen[0]) {
			t.Errorf("admit saw %+v, ReserveLogin returned %+v; want both counters before the reservation", seen, got)
		}
		for _, tt := range []struct {
			name    string
			at      time.Time
			pending int
		}{
			{"at once", t0, 1},
			{"a moment before it expires", t0.Add(15*time.Second - time.Millisecond), 1},
			{"when it expires", t0.Add(15 * time.Second), 0},
		} {
			for _, c := range counts(t, d, keys, tt.at) {
				if c.Pending != tt.pending {
					t.Errorf("%s: %+v, want %d pending", tt.name, c, tt.pending)
				}
			}
		}
		settled, err := d.SettleLogin(ctx, id, keys[1:], t0.Add(time.Second), t0.Add(time.Second-lockout))
		if err != nil || len(settled) != 1 || !sameCount(settled[0], portal.LoginCount{Key: keys[1], Failures: 1, Last: t0.Add(time.Second)}) {
			t.Errorf("SettleLogin: %+v, %v", settled, err)
		}
		for _, c := range counts(t, d, keys, t0.Add(time.Second)) {
			if c.Pending != 0 {
				t.Errorf("after settling: %+v", c)
			}
		}
	})

	t.Run("a refused reservation records nothing", func(t *testing.T) {
		d := s.store(t)
		id, got, err := d.ReserveLogin(t.Context(), []string{"u:alice"}, t0, t0.Add(time.Minute), func([]portal.LoginCount) bool { return false })
		if err != nil || id != 0 || len(got) != 1 || got[0].Key != "u:alice" {
			t.Errorf("refused ReserveLogin: id %d, %+v, %v", id, got, err)
		}
		if c := counts(t, d, []string{"u:alice"}, t0); c[0].Pending != 0 {
			t.Errorf("after a refusal: %+v", c[0])
		}
	})

	t.Run("admit counts the other node's reservations", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		ctx := t.Context()
		if _, err := d.SettleLogin(ctx, 0, []string{"u:alice"}, t0, t0.Add(-lockout)); err != nil {
			t.Fatal(err)
		}
		if id, _, err := d.ReserveLogin(ctx, []string{"u:alice"}, t0, t0.Add(time.Minute), func([]portal.LoginCount) bool { return true }); err != nil || id == 0 {
			t.Fatalf("first reservation: %d, %v", id, err)
		}
		var seen portal.LoginCount
		if _, _, err := other.ReserveLogin(ctx, []string{"u:alice"}, t0.Add(time.Second), t0.Add(time.Minute), func(c []portal.LoginCount) bool {
			seen = c[0]
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if want := (portal.LoginCount{Key: "u:alice", Failures: 1, Last: t0, Pending: 1}); !sameCount(seen, want) {
			t.Errorf("the other node's admit saw %+v, want %+v", seen, want)
		}
	})

	t.Run("concurrent reservations on two nodes never pass the limit", func(t *testing.T) {
		d, again := s.open(t)
		handles := []db.Store{d, again(t)}
		const limit = 5
		ids := make([]int64, 24)
		errs := make([]error, len(ids))
		together(len(ids), func(i int) {
			ids[i], _, errs[i] = handles[i%2].ReserveLogin(t.Context(), []string{"u:alice", "a:192.0.2.1"}, t0, t0.Add(time.Minute),
				func(c []portal.LoginCount) bool { return c[0].Pending+c[0].Failures < limit })
		})
		admitted := 0
		for i, id := range ids {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if id != 0 {
				admitted++
			}
		}
		if admitted != limit {
			t.Errorf("%d of %d concurrent attempts admitted, want %d", admitted, len(ids), limit)
		}
		if c := counts(t, d, []string{"u:alice"}, t0); c[0].Pending != limit {
			t.Errorf("pending: %+v, want %d", c[0], limit)
		}
	})

	t.Run("ClearLoginFailures forgets failures and keeps reservations", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		for _, k := range []string{"u:alice", "u:bob"} {
			if _, err := d.SettleLogin(ctx, 0, []string{k}, t0, t0.Add(-lockout)); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := d.ReserveLogin(ctx, []string{"u:alice"}, t0, t0.Add(time.Minute), func([]portal.LoginCount) bool { return true }); err != nil {
			t.Fatal(err)
		}
		if err := d.ClearLoginFailures(ctx, "u:alice"); err != nil {
			t.Fatal(err)
		}
		got := counts(t, d, []string{"u:alice", "u:bob"}, t0)
		if want := (portal.LoginCount{Key: "u:alice", Pending: 1}); !sameCount(got[0], want) {
			t.Errorf("cleared counter: %+v, want %+v", got[0], want)
		}
		if got[1].Failures != 1 {
			t.Errorf("another counter was cleared: %+v", got[1])
		}
		if err := d.ClearLoginFailures(ctx, "u:nobody"); err != nil {
			t.Errorf("clearing a counter never seen: %v", err)
		}
	})

	t.Run("DeleteStaleLoginCounts drops expired reservations and old, unheld counters", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		now := t0.Add(time.Hour)
		reserve := func(k string, expires time.Time) {
			t.Helper()
			if _, _, err := d.ReserveLogin(ctx, []string{k}, t0, expires, func([]portal.LoginCount) bool { return true }); err != nil {
				t.Fatal(err)
			}
		}
		fail := func(k string, at time.Time) {
			t.Helper()
			if _, err := d.SettleLogin(ctx, 0, []string{k}, at, at.Add(-lockout)); err != nil {
				t.Fatal(err)
			}
		}
		fail("u:old", now.Add(-2*lockout))
		fail("u:recent", now.Add(-time.Minute))
		fail("u:old-held", now.Add(-2*lockout))
		reserve("u:old-held", now.Add(time.Minute))
		reserve("u:expired", now)
		n, err := d.DeleteStaleLoginCounts(ctx, now.Add(-lockout), now)
		if err != nil || n == 0 {
			t.Errorf("DeleteStaleLoginCounts: %d, %v; want a count of what it removed", n, err)
		}
		// Read as of before the reservation expired: only deletion hides it.
		keys := []string{"u:old", "u:recent", "u:old-held", "u:expired"}
		want := []portal.LoginCount{
			{Key: "u:old"},
			{Key: "u:recent", Failures: 1, Last: now.Add(-time.Minute)},
			{Key: "u:old-held", Failures: 1, Last: now.Add(-2 * lockout), Pending: 1},
			{Key: "u:expired"},
		}
		for i, got := range counts(t, d, keys, t0) {
			if !sameCount(got, want[i]) {
				t.Errorf("after cleanup: %+v, want %+v", got, want[i])
			}
		}
		if n, err := d.DeleteStaleLoginCounts(ctx, now.Add(-lockout), now); err != nil || n != 0 {
			t.Errorf("again: %d, %v; want 0", n, err)
		}
	})
}

// counts reads counters, failing t on an error or a short answer.
func counts(t testing.TB, d db.Store, keys []string, now time.Time) []portal.LoginCount {
	t.Helper()
	got, err := d.LoginCounts(t.Context(), keys, now)
	if err != nil || len(got) != len(keys) {
		t.Fatalf("LoginCounts %q: %+v, %v", keys, got, err)
	}
	for i := range got {
		if got[i].Key != keys[i] {
			t.Fatalf("LoginCounts %q: counter %d is %q", keys, i, got[i].Key)
		}
	}
	return got
}

// sameCount compares counters, their times as instants.
func sameCount(a, b portal.LoginCount) bool {
	return a.Key == b.Key && a.Failures == b.Failures && a.Last.Equal(b.Last) && a.Pending == b.Pending
}
