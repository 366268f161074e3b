package dbtest

import (
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/portal"
)

// call is a recorded gateway call of app at t0+ms.
func call(app int64, ms int) portal.Usage {
	return portal.Usage{At: t0.Add(time.Duration(ms) * time.Millisecond), AppID: app, APIID: 7, APIName: "PizzaShackAPI",
		APIVersion: "1.0.0", Method: "GET", Resource: "/menu", KeyType: "PRODUCTION", Status: 200, Latency: 1500 * time.Microsecond}
}

func testUsage(t *testing.T, s *suite) {
	t.Run("an application's calls read back newest first, at most the limit", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		calls := []portal.Usage{call(1, 0), call(1, 1), call(2, 2), call(1, 3), call(1, 4)}
		calls[3].Method, calls[3].Resource, calls[3].Status, calls[3].KeyType = "POST", "", 404, "SANDBOX"
		if err := d.RecordUsage(ctx, calls); err != nil {
			t.Fatal(err)
		}
		got := usage(t, d, 1, 3)
		want := []portal.Usage{calls[4], calls[3], calls[1]}
		if len(got) != len(want) {
			t.Fatalf("UsageOf: %+v", got)
		}
		for i := range want {
			if !sameUsage(got[i], want[i]) {
				t.Errorf("call %d:\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
		if got := usage(t, d, 1, 100); len(got) != 4 {
			t.Errorf("all of app 1's calls: %d, want 4", len(got))
		}
		if got := usage(t, d, 3, 100); len(got) != 0 {
			t.Errorf("calls of an application without any: %+v", got)
		}
		if err := d.RecordUsage(ctx, nil); err != nil {
			t.Errorf("an empty batch: %v", err)
		}
	})

	// The gateway writes up to 5000 calls at once by default, more if told:
	// past 6553 calls, one INSERT of ten values a call would pass
	// PostgreSQL's 65535 parameters.
	t.Run("a large batch is written whole", func(t *testing.T) {
		d := s.store(t)
		calls := make([]portal.Usage, 7000)
		for i := range calls {
			calls[i] = call(1, i)
		}
		if err := d.RecordUsage(t.Context(), calls); err != nil {
			t.Fatal(err)
		}
		got := usage(t, d, 1, 10_000)
		if len(got) != len(calls) || !sameUsage(got[0], calls[len(calls)-1]) || !sameUsage(got[len(got)-1], calls[0]) {
			t.Errorf("%d calls read back of %d", len(got), len(calls))
		}
	})

	t.Run("calls at the same moment read back latest recorded first", func(t *testing.T) {
		d := s.store(t)
		first, second := call(1, 0), call(1, 0)
		first.Status, second.Status = 201, 202
		for _, batch := range [][]portal.Usage{{first}, {second}} {
			if err := d.RecordUsage(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
		}
		if got := usage(t, d, 1, 10); len(got) != 2 || got[0].Status != 202 || got[1].Status != 201 {
			t.Errorf("UsageOf: %+v", got)
		}
	})

	t.Run("DeleteUsageBefore removes the calls recorded before a time", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		var calls []portal.Usage
		for i := range 10 {
			calls = append(calls, call(1+int64(i%2), i))
		}
		if err := d.RecordUsage(ctx, calls); err != nil {
			t.Fatal(err)
		}
		if n, err := d.DeleteUsageBefore(ctx, calls[6].At); err != nil || n != 6 {
			t.Errorf("DeleteUsageBefore: %d, %v; want 6", n, err)
		}
		left := append(usage(t, d, 1, 100), usage(t, d, 2, 100)...)
		if len(left) != 4 {
			t.Errorf("left: %+v", left)
		}
		for _, u := range left {
			if u.At.Before(calls[6].At) {
				t.Errorf("an older call stayed: %+v", u)
			}
		}
		if n, err := d.DeleteUsageBefore(ctx, calls[6].At); err != nil || n != 0 {
			t.Errorf("again: %d, %v; want 0", n, err)
		}
	})

	t.Run("DeleteUsageBefore removes old calls recorded out of order", func(t *testing.T) {
		s.bug(t, BugUsagePruneStopsAtNewerRow)
		d := s.store(t)
		ctx := t.Context()
		// A call from a clock far ahead, then calls of today.
		batches := [][]portal.Usage{{call(1, 0)}, {call(1, int(365*24*time.Hour/time.Millisecond))}, {call(1, 1), call(1, 2)}}
		for _, b := range batches {
			if err := d.RecordUsage(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := d.DeleteUsageBefore(ctx, t0.Add(time.Hour)); err != nil || n != 3 {
			t.Errorf("DeleteUsageBefore: %d, %v; want 3", n, err)
		}
		if left := usage(t, d, 1, 10); len(left) != 1 {
			t.Errorf("left: %+v; want the future call only", left)
		}
	})
}

// usage reads an application's calls.
func usage(t testing.TB, d db.Store, app int64, limit int) []portal.Usage {
	t.Helper()
	got, err := d.UsageOf(t.Context(), app, limit)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// sameUsage compares calls, their times as instants.
func sameUsage(a, b portal.Usage) bool {
	a.At, b.At = a.At.UTC(), b.At.UTC()
	return a == b
}
