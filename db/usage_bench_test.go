package db_test

import (
	"flag"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/portal"
)

var usageCalls = flag.Int("usage-calls", 10_000_000, "gateway calls recorded over 30 days before BenchmarkUsageDashboards reads them")

// Shape of the recorded traffic: apps applications, each calling
// apisPerApp of apis APIs, four resources each, mostly production keys.
const (
	apps       = 200
	apis       = 20
	apisPerApp = 3
	resources  = 4
)

// recordTraffic records n calls spread evenly over the 30 days before end,
// through RecordUsage in the gateway's batches, as the usage writer would.
func recordTraffic(b *testing.B, d db.Store, n int, end time.Time) {
	rng := rand.New(rand.NewPCG(15, 15))
	start := end.Add(-30 * portal.Day)
	step := 30 * portal.Day / time.Duration(n)
	paths := []string{"/menu", "/order", "/order/{orderId}", "/stock"}
	batch := make([]portal.Usage, 0, 5000)
	for i := range n {
		app := 1 + rng.Int64N(apps)
		u := portal.Usage{At: start.Add(time.Duration(i) * step), AppID: app, APIID: 1 + (app+rng.Int64N(apisPerApp)*7)%apis,
			APIName: "API", APIVersion: "1.0.0", Method: "GET", Resource: paths[rng.IntN(resources)], KeyType: "PRODUCTION",
			Status: 200, Latency: time.Duration(math.Exp(rng.NormFloat64()*0.8+8.5)) * time.Microsecond}
		if rng.IntN(10) == 0 {
			u.KeyType = "SANDBOX"
		}
		switch r := rng.IntN(100); {
		case r < 2:
			u.Status, u.Fault = 403, 900910
		case r < 5:
			u.Status, u.Fault = 429, 900800
		case r < 6:
			u.Status = 500
		}
		if batch = append(batch, u); len(batch) == cap(batch) {
			if err := d.RecordUsage(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := d.RecordUsage(b.Context(), batch); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkUsageDashboards reads what each usage page reads (call counts;
// an application's latency bins and busiest resources, an API's latency
// bins and calls of each application, or the platform's top applications) for each range, of one application (the
// app developer's page), one API (the Publisher's) and every call (the
// administrators'), over -usage-calls calls of 30 days; each reports its
// p99 in milliseconds (the target: 50 ms with 10,000,000 calls).
func BenchmarkUsageDashboards(b *testing.B) {
	d := fixture.DB(b)
	end := time.Date(2027, 3, 1, 12, 30, 0, 0, time.UTC)
	began := time.Now()
	recordTraffic(b, d, *usageCalls, end)
	b.Logf("recorded %d calls in %v", *usageCalls, time.Since(began).Round(time.Second))
	ranges := []struct {
		name   string
		length time.Duration
		span   time.Duration
	}{{"1h", time.Hour, portal.Minute}, {"24h", 24 * time.Hour, portal.Hour}, {"7d", 7 * portal.Day, portal.Hour}, {"30d", 30 * portal.Day, portal.Day}}
	scopes := []struct {
		name     string
		app, api int64
	}{{"app", 42, 0}, {"api", 0, 7}, {"all", 0, 0}}
	for _, sc := range scopes {
		for _, r := range ranges {
			to := portal.BucketOf(end, r.span).Add(r.span)
			q := portal.UsageQuery{Span: r.span, From: to.Add(-r.length), To: to, AppID: sc.app, APIID: sc.api}
			b.Run(sc.name+"/"+r.name, func(b *testing.B) {
				var took []time.Duration
				var rows int
				for b.Loop() {
					start := time.Now()
					// The platform's page reads the calls summed per API and
					// per key type, status and fault.
					var calls []portal.CallCount
					var err error
					if q.AppID != 0 || q.APIID != 0 {
						calls, err = d.UsageCalls(b.Context(), q)
					} else if calls, err = d.UsageCallsByKind(b.Context(), q); err == nil {
						var byAPI []portal.CallCount
						byAPI, err = d.UsageCallsByAPI(b.Context(), q)
						calls = append(calls, byAPI...)
					}
					if err != nil {
						b.Fatal(err)
					}
					// An application's page reads its busiest resources; an
					// API's, the calls of each application; the platform's,
					// the top applications.
					var more int
					switch {
					case q.AppID != 0:
						res, err := d.UsageResources(b.Context(), q, 10)
						if err != nil {
							b.Fatal(err)
						}
						more = len(res)
					case q.APIID != 0:
						apps, err := d.UsageApps(b.Context(), q)
						if err != nil {
							b.Fatal(err)
						}
						more = len(apps)
					default:
						top, err := d.UsageTopApps(b.Context(), q, 10)
						if err != nil {
							b.Fatal(err)
						}
						more = len(top)
					}
					// The platform's page shows no latency.
					var lat []portal.LatencyCount
					if q.AppID != 0 || q.APIID != 0 {
						if lat, err = d.UsageLatencies(b.Context(), q); err != nil {
							b.Fatal(err)
						}
					}
					took = append(took, time.Since(start))
					rows = len(calls) + more + len(lat)
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(rows), "rows")
			})
		}
	}
}
