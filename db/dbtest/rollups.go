package dbtest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// at is a call of app to API 7 at a time, answered with status.
func at(when time.Time, app int64, status int) portal.Usage {
	u := call(app, 0)
	u.At, u.Status = when, status
	return u
}

// record stores batches of calls, one RecordUsage each.
func record(t testing.TB, d db.Store, batches ...[]portal.Usage) {
	t.Helper()
	for _, b := range batches {
		if err := d.RecordUsage(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// callCounts reads the call counts a query selects as "bucket app status:
// calls". A query of no application reads applications 1 and 2 one by one,
// and checks that the API's rollup (and the calls of each application to
// it) holds their sums.
func callCounts(t testing.TB, d db.Store, q portal.UsageQuery) map[string]int64 {
	t.Helper()
	read := func(q portal.UsageQuery) []portal.CallCount {
		got, err := d.UsageCalls(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got {
			if c.Span != q.Span || c.AppID != q.AppID {
				t.Errorf("a count of span %v, application %d read for %+v", c.Span, c.AppID, q)
			}
		}
		return got
	}
	apps := []int64{q.AppID}
	if q.AppID == 0 {
		apps = []int64{1, 2}
	}
	out := map[string]int64{}
	perAPI, perApp := map[string]int64{}, map[string]int64{}
	for _, app := range apps {
		q := q
		q.AppID = app
		for _, c := range read(q) {
			out[fmt.Sprintf("%s app%d %d", c.Bucket.UTC().Format(time.DateTime), c.AppID, c.Status)] += c.Calls
			perAPI[fmt.Sprintf("%s api%d %s %d %d", c.Bucket.UTC().Format(time.DateTime), c.APIID, c.KeyType, c.Status, c.Fault)] += c.Calls
			perApp[fmt.Sprintf("%s app%d api%d", c.Bucket.UTC().Format(time.DateTime), c.AppID, c.APIID)] += c.Calls
		}
	}
	if q.AppID == 0 {
		api := map[string]int64{}
		for _, c := range read(q) {
			api[fmt.Sprintf("%s api%d %s %d %d", c.Bucket.UTC().Format(time.DateTime), c.APIID, c.KeyType, c.Status, c.Fault)] += c.Calls
		}
		if fmt.Sprint(api) != fmt.Sprint(perAPI) {
			t.Errorf("the API's rollup:\n got %v\nwant %v", api, perAPI)
		}
		got, err := d.UsageApps(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		pairs := map[string]int64{}
		for _, c := range got {
			pairs[fmt.Sprintf("%s app%d api%d", c.Bucket.UTC().Format(time.DateTime), c.AppID, c.APIID)] += c.Calls
		}
		if fmt.Sprint(pairs) != fmt.Sprint(perApp) {
			t.Errorf("calls of each application to the API:\n got %v\nwant %v", pairs, perApp)
		}
	}
	return out
}

func sameCounts(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func testRollups(t *testing.T, s *suite) {
	// 2027-01-01 00:00:00 UTC: a minute, an hour and a day start together.
	midnight := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	kolkata := time.FixedZone("IST", 5*3600+1800)
	far := midnight.AddDate(0, 0, 10)
	all := func(span time.Duration) portal.UsageQuery {
		return portal.UsageQuery{Span: span, From: midnight.AddDate(0, 0, -10), To: far}
	}

	t.Run("calls fall in the minute, hour and UTC day of their instant", func(t *testing.T) {
		d := s.store(t)
		record(t, d, []portal.Usage{
			at(midnight.Add(-time.Millisecond), 1, 200),
			at(midnight, 1, 200),
			at(midnight.Add(59*time.Second+999*time.Millisecond), 1, 200),
			// 05:29:59 in Kolkata is 23:59:59 UTC: the day before.
			at(time.Date(2027, 1, 1, 5, 29, 59, 0, kolkata), 1, 429),
			at(time.Date(2027, 1, 1, 5, 30, 0, 0, kolkata), 1, 429),
			at(midnight.Add(time.Hour), 2, 200),
		})
		sameCounts(t, "minutes", callCounts(t, d, all(portal.Minute)), map[string]int64{
			"2026-12-31 23:59:00 app1 200": 1, "2026-12-31 23:59:00 app1 429": 1,
			"2027-01-01 00:00:00 app1 200": 2, "2027-01-01 00:00:00 app1 429": 1,
			"2027-01-01 01:00:00 app2 200": 1,
		})
		sameCounts(t, "hours", callCounts(t, d, all(portal.Hour)), map[string]int64{
			"2026-12-31 23:00:00 app1 200": 1, "2026-12-31 23:00:00 app1 429": 1,
			"2027-01-01 00:00:00 app1 200": 2, "2027-01-01 00:00:00 app1 429": 1,
			"2027-01-01 01:00:00 app2 200": 1,
		})
		sameCounts(t, "days", callCounts(t, d, all(portal.Day)), map[string]int64{
			"2026-12-31 00:00:00 app1 200": 1, "2026-12-31 00:00:00 app1 429": 1,
			"2027-01-01 00:00:00 app1 200": 2, "2027-01-01 00:00:00 app1 429": 1,
			"2027-01-01 00:00:00 app2 200": 1,
		})
		q := all(portal.Hour)
		q.From, q.To = midnight, midnight.Add(time.Hour)
		sameCounts(t, "from midnight to 01:00, the end excluded", callCounts(t, d, q), map[string]int64{
			"2027-01-01 00:00:00 app1 200": 2, "2027-01-01 00:00:00 app1 429": 1,
		})
		q = all(portal.Day)
		q.AppID = 2
		sameCounts(t, "one application", callCounts(t, d, q), map[string]int64{"2027-01-01 00:00:00 app2 200": 1})
		q.AppID, q.APIID = 0, 8
		sameCounts(t, "an API without calls", callCounts(t, d, q), map[string]int64{})
	})

	t.Run("late and out-of-order batches add to their buckets", func(t *testing.T) {
		d := s.store(t)
		record(t, d,
			[]portal.Usage{at(midnight.Add(5*time.Minute), 1, 200), at(midnight.Add(time.Minute), 1, 200)},
			[]portal.Usage{at(midnight.Add(5*time.Minute+time.Second), 1, 200)},
			// An hour late, from a node whose clock lags.
			[]portal.Usage{at(midnight.Add(time.Minute+30*time.Second), 1, 200), at(midnight.Add(-time.Hour), 1, 500)},
		)
		sameCounts(t, "minutes", callCounts(t, d, all(portal.Minute)), map[string]int64{
			"2026-12-31 23:00:00 app1 500": 1, "2027-01-01 00:01:00 app1 200": 2, "2027-01-01 00:05:00 app1 200": 2,
		})
		sameCounts(t, "days", callCounts(t, d, all(portal.Day)), map[string]int64{
			"2026-12-31 00:00:00 app1 500": 1, "2027-01-01 00:00:00 app1 200": 4,
		})
	})

	t.Run("each width is pruned on its own, and the raw calls stay", func(t *testing.T) {
		d := s.store(t)
		record(t, d, []portal.Usage{at(midnight.Add(-2*time.Hour), 1, 200), at(midnight.Add(30*time.Minute), 1, 200)})
		n, err := d.DeleteRollupsBefore(t.Context(), portal.Minute, midnight)
		// The minute's row in each of the six rollups.
		if err != nil || n != 6 {
			t.Errorf("DeleteRollupsBefore: %d, %v; want 6", n, err)
		}
		sameCounts(t, "minutes", callCounts(t, d, all(portal.Minute)), map[string]int64{"2027-01-01 00:30:00 app1 200": 1})
		sameCounts(t, "hours", callCounts(t, d, all(portal.Hour)), map[string]int64{
			"2026-12-31 22:00:00 app1 200": 1, "2027-01-01 00:00:00 app1 200": 1,
		})
		if n, err := d.DeleteRollupsBefore(t.Context(), portal.Minute, midnight); err != nil || n != 0 {
			t.Errorf("again: %d, %v", n, err)
		}
		if got := usage(t, d, 1, 10); len(got) != 2 {
			t.Errorf("raw calls: %d, want 2", len(got))
		}
	})

	t.Run("the rollups add up to the raw calls they came from", func(t *testing.T) {
		d := s.store(t)
		rng := rand.New(rand.NewPCG(1, 2))
		statuses := []int{200, 200, 200, 201, 403, 429, 500}
		faults := map[int]int{403: 900910, 429: 900800}
		var batches [][]portal.Usage
		for range 8 {
			var b []portal.Usage
			for range 250 {
				u := at(midnight.Add(time.Duration(rng.Int64N(int64(3*portal.Day)))-portal.Day), 1+rng.Int64N(3), 0)
				u.Status = statuses[rng.IntN(len(statuses))]
				u.Fault = faults[u.Status]
				u.APIID = 7 + rng.Int64N(2)
				u.KeyType = []string{"PRODUCTION", "SANDBOX"}[rng.IntN(2)]
				u.Resource = []string{"/menu", "/order", "/order/{orderId}"}[rng.IntN(3)]
				u.Latency = time.Duration(rng.Int64N(int64(300 * time.Millisecond))).Truncate(time.Microsecond)
				b = append(b, u)
			}
			batches = append(batches, b)
		}
		record(t, d, batches...)
		type key struct {
			app, api      int64
			kt            string
			status, fault int
			method, res   string
		}
		raw := map[key]int64{}
		rawRes := map[key]int64{}
		var rawLatency time.Duration
		var rawCalls int64
		for app := int64(1); app <= 3; app++ {
			for _, u := range usage(t, d, app, -1) {
				raw[key{u.AppID, u.APIID, u.KeyType, u.Status, u.Fault, "", ""}]++
				rawRes[key{api: u.APIID, method: u.Method, res: u.Resource}]++
				rawLatency += u.Latency
				rawCalls++
			}
		}
		if rawCalls != 2000 {
			t.Fatalf("raw calls: %d", rawCalls)
		}
		for _, span := range portal.RollupSpans {
			sum, api, rawAPI := map[key]int64{}, map[key]int64{}, map[key]int64{}
			var latency, apiLatency time.Duration
			for app := int64(1); app <= 3; app++ {
				q := all(span)
				q.AppID = app
				got, err := d.UsageCalls(t.Context(), q)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range got {
					sum[key{c.AppID, c.APIID, c.KeyType, c.Status, c.Fault, "", ""}] += c.Calls
					latency += c.Latency
				}
			}
			got, err := d.UsageCalls(t.Context(), all(span))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range got {
				api[key{c.AppID, c.APIID, c.KeyType, c.Status, c.Fault, "", ""}] += c.Calls
				apiLatency += c.Latency
			}
			for k, n := range raw {
				k.app = 0
				rawAPI[k] += n
			}
			if fmt.Sprint(sum) != fmt.Sprint(raw) || latency != rawLatency {
				t.Errorf("%v: calls\n got %v\nwant %v\nlatency %v, want %v", span, sum, raw, latency, rawLatency)
			}
			if fmt.Sprint(api) != fmt.Sprint(rawAPI) || apiLatency != rawLatency {
				t.Errorf("%v: the API's calls\n got %v\nwant %v\nlatency %v, want %v", span, api, rawAPI, apiLatency, rawLatency)
			}
			res, err := d.UsageResources(t.Context(), all(span), 100)
			if err != nil {
				t.Fatal(err)
			}
			gotRes := map[key]int64{}
			for i, r := range res {
				gotRes[key{api: r.APIID, method: r.Method, res: r.Resource}] += r.Calls
				if i > 0 && r.Calls > res[i-1].Calls {
					t.Errorf("%v: resources not the busiest first: %+v", span, res)
				}
			}
			if fmt.Sprint(gotRes) != fmt.Sprint(rawRes) {
				t.Errorf("%v: resources\n got %v\nwant %v", span, gotRes, rawRes)
			}
			lat, err := d.UsageLatencies(t.Context(), all(span))
			if err != nil {
				t.Fatal(err)
			}
			var binned int64
			for _, l := range lat {
				lo, hi := portal.BinRange(l.Bin)
				if lo >= hi || l.Calls <= 0 {
					t.Errorf("%v: bin %d: %v to %v, %d calls", span, l.Bin, lo, hi, l.Calls)
				}
				binned += l.Calls
			}
			if binned != rawCalls {
				t.Errorf("%v: %d calls in latency bins, want %d", span, binned, rawCalls)
			}
		}
		if top, err := d.UsageResources(t.Context(), all(portal.Day), 2); err != nil || len(top) != 2 {
			t.Errorf("UsageResources with limit 2: %+v, %v", top, err)
		}
		perApp := map[int64]int64{}
		for k, n := range raw {
			perApp[k.app] += n
		}
		for _, span := range portal.RollupSpans {
			top, err := d.UsageTopApps(t.Context(), all(span), 2)
			if err != nil || len(top) != 2 {
				t.Fatalf("UsageTopApps with limit 2: %+v, %v", top, err)
			}
			for i, a := range top {
				if a.Calls != perApp[a.AppID] || (i > 0 && a.Calls > top[i-1].Calls) {
					t.Errorf("%v: top applications %+v, want the busiest first of %v", span, top, perApp)
				}
			}
			if a := top[0]; a.Calls < perApp[1] || a.Calls < perApp[2] || a.Calls < perApp[3] {
				t.Errorf("%v: the busiest application is %+v of %v", span, a, perApp)
			}
		}
	})

	t.Run("the latency bins of an application answer its percentiles", func(t *testing.T) {
		d := s.store(t)
		var calls []portal.Usage
		for i := range 100 {
			u := at(midnight, 1, 200)
			u.Latency = time.Duration(i+1) * time.Millisecond
			calls = append(calls, u)
		}
		other := at(midnight, 2, 200)
		other.Latency = time.Hour
		record(t, d, calls, []portal.Usage{other})
		q := all(portal.Hour)
		q.AppID = 1
		lat, err := d.UsageLatencies(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		bins := map[int]int64{}
		for _, l := range lat {
			bins[l.Bin] += l.Calls
		}
		for _, c := range []struct {
			p    float64
			want time.Duration
		}{{0.5, 50 * time.Millisecond}, {0.95, 95 * time.Millisecond}, {0.99, 99 * time.Millisecond}} {
			got := portal.Percentile(bins, c.p)
			if diff := got - c.want; diff < -c.want/16 || diff > c.want/16 {
				t.Errorf("p%v: %v, want %v within 6.25%%", c.p*100, got, c.want)
			}
		}
	})

	t.Run("the administrators' sums and top applications match the calls of their buckets", func(t *testing.T) {
		d := s.store(t)
		rng := rand.New(rand.NewPCG(3, 4))
		var calls []portal.Usage
		for range 1500 {
			u := at(midnight.Add(time.Duration(rng.Int64N(int64(3*portal.Day)))-portal.Day), 1+rng.Int64N(5), 200)
			u.APIID = 7 + rng.Int64N(3)
			u.KeyType = []string{"PRODUCTION", "SANDBOX"}[rng.IntN(2)]
			if rng.IntN(4) == 0 {
				u.Status, u.Fault = 429, 900800
			}
			calls = append(calls, u)
		}
		record(t, d, calls[:700], calls[700:])
		// From 05:00 the day before to 07:00 the day after: a whole day and
		// two ends of hours. And a range of minutes across an hour.
		for _, q := range []portal.UsageQuery{
			{Span: portal.Hour, From: midnight.Add(-19 * time.Hour), To: midnight.Add(31 * time.Hour)},
			{Span: portal.Hour, From: midnight.Add(-24 * time.Hour), To: midnight.Add(48 * time.Hour)},
			{Span: portal.Hour, From: midnight.Add(3 * time.Hour), To: midnight.Add(5 * time.Hour)},
			{Span: portal.Minute, From: midnight.Add(-10 * time.Minute), To: midnight.Add(70 * time.Minute)},
			{Span: portal.Day, From: midnight.Add(-portal.Day), To: midnight.Add(2 * portal.Day)},
		} {
			byAPI, byKind, apps := map[string]int64{}, map[string]int64{}, map[int64]int64{}
			for _, u := range calls {
				if u.At.Before(q.From) || !u.At.Before(q.To) {
					continue
				}
				b := portal.BucketOf(u.At, q.Span).Format(time.DateTime)
				byAPI[fmt.Sprintf("%s api%d", b, u.APIID)]++
				byKind[fmt.Sprintf("%s %s %d %d", b, u.KeyType, u.Status, u.Fault)]++
				apps[u.AppID]++
			}
			got, err := d.UsageCallsByAPI(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			gotAPI := map[string]int64{}
			for i, c := range got {
				if c.AppID != 0 || c.KeyType != "" || c.Status != 0 || c.Fault != 0 || (i > 0 && c.Bucket.Before(got[i-1].Bucket)) {
					t.Errorf("%v: a count per API %+v", q.From, c)
				}
				gotAPI[fmt.Sprintf("%s api%d", c.Bucket.UTC().Format(time.DateTime), c.APIID)] += c.Calls
			}
			sameCounts(t, fmt.Sprintf("%v from %v per API", q.Span, q.From), gotAPI, byAPI)
			if got, err = d.UsageCallsByKind(t.Context(), q); err != nil {
				t.Fatal(err)
			}
			gotKind := map[string]int64{}
			for i, c := range got {
				if c.AppID != 0 || c.APIID != 0 || (i > 0 && c.Bucket.Before(got[i-1].Bucket)) {
					t.Errorf("%v: a count per kind %+v", q.From, c)
				}
				gotKind[fmt.Sprintf("%s %s %d %d", c.Bucket.UTC().Format(time.DateTime), c.KeyType, c.Status, c.Fault)] += c.Calls
			}
			sameCounts(t, fmt.Sprintf("%v from %v per kind", q.Span, q.From), gotKind, byKind)
			top, err := d.UsageTopApps(t.Context(), q, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(top) != min(3, len(apps)) {
				t.Errorf("%v from %v: %d top applications of %d", q.Span, q.From, len(top), len(apps))
			}
			for i, a := range top {
				if a.Calls != apps[a.AppID] || (i > 0 && a.Calls > top[i-1].Calls) {
					t.Errorf("%v from %v: top application %+v, want %d calls, the most first", q.Span, q.From, a, apps[a.AppID])
				}
			}
		}
	})

	t.Run("audit events and tokens are counted per bucket", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		hour := portal.BucketOf(t0, portal.Hour)
		for _, e := range []portal.AuditEvent{
			{At: hour.Add(-time.Millisecond), Event: portal.AuditLoginFailed},
			{At: hour, Event: portal.AuditLoginFailed},
			{At: hour.Add(59 * time.Minute), Event: portal.AuditLoginFailed},
			{At: hour.Add(30 * time.Minute), Event: portal.AuditLockout},
			{At: hour.Add(time.Hour), Event: portal.AuditLockout},
		} {
			if err := d.RecordAudit(ctx, &e); err != nil {
				t.Fatal(err)
			}
		}
		got, err := d.AuditCounts(ctx, 0, portal.Hour, hour, hour.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		ev := func(b time.Time, name string, n int64) portal.EventCount {
			return portal.EventCount{Bucket: b, Name: name, Count: n}
		}
		if fmt.Sprint(got) != fmt.Sprint([]portal.EventCount{ev(hour, portal.AuditLockout, 1), ev(hour, portal.AuditLoginFailed, 2),
			ev(hour.Add(time.Hour), portal.AuditLockout, 1)}) {
			t.Errorf("AuditCounts: %v", got)
		}

		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "app")
		cc, pw, revokedToken := token(key, alice, oauth.GrantClientCredentials), token(key, alice, oauth.GrantPassword),
			token(key, alice, oauth.GrantClientCredentials)
		late := token(key, alice, oauth.GrantClientCredentials)
		late.IssuedAt, late.ExpiresAt = t0.Add(2*time.Hour), t0.Add(3*time.Hour)
		save(t, d, cc, pw, revokedToken, late)
		if err := d.RevokeToken(ctx, revokedToken.AccessHash); err != nil {
			t.Fatal(err)
		}
		issued, active, err := d.TokenCounts(ctx, portal.Hour, hour, hour.Add(2*time.Hour), t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(issued) != fmt.Sprint([]portal.EventCount{ev(hour, oauth.GrantClientCredentials, 2), ev(hour, oauth.GrantPassword, 1)}) || active != 3 {
			t.Errorf("TokenCounts: %v, %d active; want 3 active", issued, active)
		}
		if _, active, err := d.TokenCounts(ctx, portal.Hour, hour, hour, t0.Add(150*time.Minute)); err != nil || active != 1 {
			t.Errorf("active later: %d, %v; want 1", active, err)
		}
	})

	t.Run("tokens issued are counted as they are stored and outlive token cleanup", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "app")
		cc, pw := token(key, alice, oauth.GrantClientCredentials), token(key, alice, oauth.GrantPassword)
		nextMinute := token(key, alice, oauth.GrantClientCredentials)
		nextMinute.IssuedAt, nextMinute.ExpiresAt = t0.Add(61*time.Second), t0.Add(time.Hour)
		save(t, d, cc, pw)
		if err := d.CreateTokens(ctx, []*oauth.Token{nextMinute}); err != nil {
			t.Fatal(err)
		}
		if err := d.RotateRefresh(ctx, pw.RefreshHash, successor(pw)); err != nil {
			t.Fatal(err)
		}
		// A token refused because its key's secret changed is not counted.
		refused := token(key, alice, oauth.GrantClientCredentials)
		refused.SecretHash = oauth.HashOf(oauth.NewSecret())
		if err := d.CreateToken(ctx, refused); err == nil {
			t.Fatal("a token of a replaced secret was stored")
		}
		// Every token is stale two days on: cleanup deletes them all.
		later := t0.Add(48 * time.Hour)
		if n, err := d.DeleteStaleTokens(ctx, later); err != nil || n != 4 {
			t.Fatalf("DeleteStaleTokens: %d, %v; want 4", n, err)
		}
		ev := func(b time.Time, name string, n int64) portal.EventCount {
			return portal.EventCount{Bucket: b, Name: name, Count: n}
		}
		minute, hour, day := portal.BucketOf(t0, portal.Minute), portal.BucketOf(t0, portal.Hour), portal.BucketOf(t0, portal.Day)
		for _, c := range []struct {
			span     time.Duration
			from, to time.Time
			want     []portal.EventCount
		}{
			{portal.Minute, minute, minute.Add(2 * time.Minute), []portal.EventCount{ev(minute, oauth.GrantClientCredentials, 1),
				ev(minute, oauth.GrantPassword, 1), ev(minute, oauth.GrantRefreshToken, 1),
				ev(minute.Add(time.Minute), oauth.GrantClientCredentials, 1)}},
			{portal.Minute, minute.Add(time.Minute), minute.Add(2 * time.Minute), []portal.EventCount{
				ev(minute.Add(time.Minute), oauth.GrantClientCredentials, 1)}},
			{portal.Hour, hour, hour.Add(time.Hour), []portal.EventCount{ev(hour, oauth.GrantClientCredentials, 2),
				ev(hour, oauth.GrantPassword, 1), ev(hour, oauth.GrantRefreshToken, 1)}},
			{portal.Hour, hour.Add(time.Hour), hour.Add(2 * time.Hour), nil},
			{portal.Day, day, day.Add(portal.Day), []portal.EventCount{ev(day, oauth.GrantClientCredentials, 2),
				ev(day, oauth.GrantPassword, 1), ev(day, oauth.GrantRefreshToken, 1)}},
		} {
			issued, active, err := d.TokenCounts(ctx, c.span, c.from, c.to, later)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(issued) != fmt.Sprint(c.want) || active != 0 {
				t.Errorf("TokenCounts(%v, %v): %v, %d active; want %v, 0 active", c.span, c.from, issued, active, c.want)
			}
		}
		// They are pruned with the rollups of their width.
		if _, err := d.DeleteRollupsBefore(ctx, portal.Minute, minute.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		issued, _, err := d.TokenCounts(ctx, portal.Minute, minute, minute.Add(2*time.Minute), later)
		if err != nil || fmt.Sprint(issued) != fmt.Sprint([]portal.EventCount{ev(minute.Add(time.Minute), oauth.GrantClientCredentials, 1)}) {
			t.Errorf("after pruning the first minute: %v, %v", issued, err)
		}
		if issued, _, err := d.TokenCounts(ctx, portal.Hour, hour, hour.Add(time.Hour), later); err != nil || len(issued) != 3 {
			t.Errorf("hours after pruning minutes: %v, %v", issued, err)
		}
	})
}
