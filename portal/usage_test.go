package portal_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/apistore/apistore/portal"
)

func TestCovering(t *testing.T) {
	midnight := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return midnight.Add(d) }
	q := func(span time.Duration, from, to time.Duration) portal.UsageQuery {
		return portal.UsageQuery{Span: span, From: at(from), To: at(to), APIID: 7}
	}
	h := time.Hour
	for _, c := range []struct {
		name string
		q    portal.UsageQuery
		want []portal.UsageQuery
	}{
		{"seven days of hours: six days and two ends", q(portal.Hour, -7*24*h+13*h, 13*h),
			[]portal.UsageQuery{q(portal.Hour, -7*24*h+13*h, -6*24*h), q(portal.Day, -6*24*h, 0), q(portal.Hour, 0, 13*h)}},
		{"whole days of hours: days only", q(portal.Hour, -2*24*h, 0), []portal.UsageQuery{q(portal.Day, -2*24*h, 0)}},
		{"no whole day: the hours", q(portal.Hour, -23*h, 0), []portal.UsageQuery{q(portal.Hour, -23*h, 0)}},
		{"minutes across a whole hour", q(portal.Minute, -10*time.Minute, 70*time.Minute),
			[]portal.UsageQuery{q(portal.Minute, -10*time.Minute, 0), q(portal.Hour, 0, h), q(portal.Minute, h, 70*time.Minute)}},
		{"days: the widest", q(portal.Day, -30*24*h, 0), []portal.UsageQuery{q(portal.Day, -30*24*h, 0)}},
	} {
		if got := c.q.Covering(); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.want)
		}
	}
}

// TestRollUpAllocatesPerKey: the usage writer rolls up every gateway call,
// so summing a call into rollups that already hold its keys must not
// allocate; only new keys and the results do.
func TestRollUpAllocatesPerKey(t *testing.T) {
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := make([]portal.Usage, 1000)
	for i := range calls {
		calls[i] = portal.Usage{At: at.Add(time.Duration(i) * time.Millisecond), AppID: 1, APIID: 2, Method: "GET",
			Resource: "/menu", KeyType: "PRODUCTION", Status: 200, Latency: time.Millisecond}
	}
	r := portal.RollUp(calls)
	if len(r.Calls) != len(portal.RollupSpans) || r.Calls[0].Calls != 1000 || r.Calls[0].Latency != time.Second {
		t.Fatalf("calls rolled up: %+v", r.Calls)
	}
	if len(r.Apps) != len(portal.RollupSpans) || r.Apps[0].Calls != 1000 || r.Apps[0].Errors != 0 {
		t.Fatalf("apps rolled up: %+v", r.Apps)
	}
	// Six maps of three keys each (one per span), six result slices, and
	// the maps' growth: far fewer than one per call.
	if n := testing.AllocsPerRun(5, func() { portal.RollUp(calls) }); n > 100 {
		t.Errorf("RollUp of %d calls on the same keys allocated %.0f times", len(calls), n)
	}
}
