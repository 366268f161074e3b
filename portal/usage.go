package portal

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"time"
)

// The widths of the usage rollups: the dashboards read these sums of calls,
// which the gateway's usage writer adds to as it writes each batch, never
// the raw calls. Buckets start at multiples of their width since the Unix
// epoch, so minutes and hours line up in every time zone with a whole-hour
// offset, and days are UTC days.
const (
	Minute = time.Minute
	Hour   = time.Hour
	Day    = 24 * time.Hour
)

// RollupSpans are the widths of the rollups, finest first.
var RollupSpans = []time.Duration{Minute, Hour, Day}

// RollupRetention is how long the buckets of each width are kept: a range
// that starts earlier is read from a coarser rollup.
var RollupRetention = map[time.Duration]time.Duration{Minute: 2 * Day, Hour: 92 * Day, Day: 800 * Day}

// CallCount is the calls of one bucket that share an application, an API, a
// key type, a status and a fault code.
type CallCount struct {
	Span    time.Duration
	Bucket  time.Time
	AppID   int64
	APIID   int64
	KeyType string
	Status  int
	Fault   int
	Calls   int64
	// Latency is the calls' latencies added up.
	Latency time.Duration
}

// ResourceCount is the calls of one bucket to one resource of an API by one
// application; Errors are those answered with a status of 400 or more.
type ResourceCount struct {
	Span     time.Duration
	Bucket   time.Time
	AppID    int64
	APIID    int64
	Method   string
	Resource string
	Calls    int64
	Errors   int64
}

// LatencyCount is the calls of one bucket, application and API whose
// latencies fall in one bin (see LatencyBin).
type LatencyCount struct {
	Span   time.Duration
	Bucket time.Time
	AppID  int64
	APIID  int64
	Bin    int
	Calls  int64
}

// AppCount is the calls of one bucket by one application to one API;
// Errors are those answered with a status of 400 or more.
type AppCount struct {
	Span   time.Duration
	Bucket time.Time
	AppID  int64
	APIID  int64
	Calls  int64
	Errors int64
}

// Rollups are what a batch of calls adds to each rollup, at every span,
// each list sorted by its key so that concurrent writers (nodes sharing a
// PostgreSQL database) lock rows in the same order. The application's
// rollups (Calls, Resources, Latencies) serve its developer's page; the
// API's (APICalls and APILatencies, their AppID 0, and Apps) the
// Publisher's and the administrators', which read many applications.
type Rollups struct {
	Calls        []CallCount
	Resources    []ResourceCount
	Latencies    []LatencyCount
	APICalls     []CallCount
	APILatencies []LatencyCount
	Apps         []AppCount
}

// RollUp sums a batch of calls into the rollups.
func RollUp(calls []Usage) Rollups {
	cs, acs := map[CallCount]*CallCount{}, map[CallCount]*CallCount{}
	rs := map[ResourceCount]*ResourceCount{}
	ls, als := map[LatencyCount]*LatencyCount{}, map[LatencyCount]*LatencyCount{}
	ps := map[AppCount]*AppCount{}
	for _, u := range calls {
		bin := LatencyBin(u.Latency)
		latency := u.Latency.Truncate(time.Microsecond)
		var failed int64
		if u.Status >= 400 {
			failed = 1
		}
		for _, span := range RollupSpans {
			b := BucketOf(u.At, span)
			call := CallCount{Span: span, Bucket: b, AppID: u.AppID, APIID: u.APIID, KeyType: u.KeyType, Status: u.Status, Fault: u.Fault}
			c, ac := sum(cs, call), sum(acs, withoutApp(call))
			c.Calls, c.Latency = c.Calls+1, c.Latency+latency
			ac.Calls, ac.Latency = ac.Calls+1, ac.Latency+latency
			r := sum(rs, ResourceCount{Span: span, Bucket: b, AppID: u.AppID, APIID: u.APIID, Method: u.Method, Resource: u.Resource})
			r.Calls++
			r.Errors += failed
			lat := LatencyCount{Span: span, Bucket: b, AppID: u.AppID, APIID: u.APIID, Bin: bin}
			sum(ls, lat).Calls++
			lat.AppID = 0
			sum(als, lat).Calls++
			p := sum(ps, AppCount{Span: span, Bucket: b, AppID: u.AppID, APIID: u.APIID})
			p.Calls++
			p.Errors += failed
		}
	}
	bySpan := func(a, b time.Duration, at, bt time.Time, aApp, bApp, aAPI, bAPI int64) int {
		return cmp.Or(cmp.Compare(a, b), at.Compare(bt), cmp.Compare(aApp, bApp), cmp.Compare(aAPI, bAPI))
	}
	callOrder := func(a, b CallCount) int {
		return cmp.Or(bySpan(a.Span, b.Span, a.Bucket, b.Bucket, a.AppID, b.AppID, a.APIID, b.APIID),
			cmp.Compare(a.KeyType, b.KeyType), cmp.Compare(a.Status, b.Status), cmp.Compare(a.Fault, b.Fault))
	}
	latencyOrder := func(a, b LatencyCount) int {
		return cmp.Or(bySpan(a.Span, b.Span, a.Bucket, b.Bucket, a.AppID, b.AppID, a.APIID, b.APIID), cmp.Compare(a.Bin, b.Bin))
	}
	return Rollups{
		Calls: sorted(cs, callOrder),
		Resources: sorted(rs, func(a, b ResourceCount) int {
			return cmp.Or(bySpan(a.Span, b.Span, a.Bucket, b.Bucket, a.AppID, b.AppID, a.APIID, b.APIID),
				cmp.Compare(a.Method, b.Method), cmp.Compare(a.Resource, b.Resource))
		}),
		Latencies:    sorted(ls, latencyOrder),
		APICalls:     sorted(acs, callOrder),
		APILatencies: sorted(als, latencyOrder),
		Apps: sorted(ps, func(a, b AppCount) int {
			return bySpan(a.Span, b.Span, a.Bucket, b.Bucket, a.AppID, b.AppID, a.APIID, b.APIID)
		}),
	}
}

// withoutApp is a call count's key in the API's rollup.
func withoutApp(c CallCount) CallCount {
	c.AppID = 0
	return c
}

// sum is the running sum of key (a count whose counters are zero) in m.
func sum[K comparable](m map[K]*K, key K) *K {
	if v := m[key]; v != nil {
		return v
	}
	// A copy, so that key itself stays on the stack: taking its address
	// would move it to the heap on every call, found or not.
	v := new(K)
	*v = key
	m[key] = v
	return v
}

// sorted lists the sums of m in order.
func sorted[K comparable](m map[K]*K, order func(a, b K) int) []K {
	out := make([]K, 0, len(m))
	for _, v := range m {
		out = append(out, *v)
	}
	slices.SortFunc(out, order)
	return out
}

// BucketOf is the start of the bucket of width span that holds t, in UTC.
func BucketOf(t time.Time, span time.Duration) time.Time {
	s := int64(span / time.Second)
	sec := t.Unix()
	b := sec - sec%s
	if sec%s < 0 { // before 1970: round down, not toward zero
		b -= s
	}
	return time.Unix(b, 0).UTC()
}

// Latency bins are logarithmic with eight sub-bins per power of two of
// microseconds, so a percentile read from them is within 6.25% of the
// exact one (the bin's middle, at most half a sub-bin away), while a
// bucket holds a few dozen bins whatever its number of calls.
const subBins = 8

// LatencyBin is the bin of a latency: bins below subBins hold one
// microsecond each, then every power of two is split in subBins.
func LatencyBin(d time.Duration) int {
	us := d.Microseconds()
	if us < subBins {
		return int(max(us, 0))
	}
	e := bits.Len64(uint64(us)) // us < 2^e
	m := (us >> (e - 4)) & (subBins - 1)
	return (e-3)*subBins + int(m)
}

// BinRange is the latencies a bin holds: from lo, up to but not including hi.
func BinRange(bin int) (lo, hi time.Duration) {
	if bin < subBins {
		return time.Duration(bin) * time.Microsecond, time.Duration(bin+1) * time.Microsecond
	}
	e, m := bin/subBins+3, int64(bin%subBins)
	width := int64(1) << (e - 4)
	l := (subBins + m) * width
	return time.Duration(l) * time.Microsecond, time.Duration(l+width) * time.Microsecond
}

// Percentile is the latency below which fraction p (0 < p ≤ 1) of the
// calls counted per bin fall: the middle of the bin that holds that rank;
// 0 with no calls.
func Percentile(perBin map[int]int64, p float64) time.Duration {
	var total int64
	bins := make([]int, 0, len(perBin))
	for b, n := range perBin {
		total += n
		bins = append(bins, b)
	}
	if total == 0 {
		return 0
	}
	slices.Sort(bins)
	rank := int64(math.Ceil(p * float64(total)))
	var seen int64
	for _, b := range bins {
		if seen += perBin[b]; seen >= rank {
			lo, hi := BinRange(b)
			return (lo + hi) / 2
		}
	}
	lo, hi := BinRange(bins[len(bins)-1])
	return (lo + hi) / 2
}

// UsageQuery selects rolled-up calls: the buckets of width Span from From
// (included) to To (excluded), of one application and one API when their
// ids are set (0: any).
type UsageQuery struct {
	Span     time.Duration
	From, To time.Time
	AppID    int64
	APIID    int64
	TenantID int64 // only the calls to this tenant's APIs; 0: every API
}

// EventCount is how many things of one kind (an audit event, a token of a
// grant type) happened in one bucket.
type EventCount struct {
	Bucket time.Time
	Name   string
	Count  int64
}

// Covering is the same buckets read at the fewest rows, for a sum over the
// range as a whole: the buckets of the next wider rollup that the range
// holds whole, and the query's own width for the rest, in at most three
// queries (before, whole, after). A day's rows are the sums of its hours,
// and an hour's of its minutes, since every width is added to in the same
// transaction; the wider width is kept longer. Seven days of hours are
// then six days and 24 hours, a seventh of the rows.
func (q UsageQuery) Covering() []UsageQuery {
	i := slices.Index(RollupSpans, q.Span)
	if i < 0 || i == len(RollupSpans)-1 {
		return []UsageQuery{q}
	}
	wide := RollupSpans[i+1]
	from, to := BucketOf(q.From, wide), BucketOf(q.To, wide)
	if from.Before(q.From) {
		from = from.Add(wide)
	}
	if !from.Before(to) {
		return []UsageQuery{q}
	}
	var out []UsageQuery
	part := func(span time.Duration, a, b time.Time) {
		if a.Before(b) {
			p := q
			p.Span, p.From, p.To = span, a, b
			out = append(out, p)
		}
	}
	part(q.Span, q.From, from)
	part(wide, from, to)
	part(q.Span, to, q.To)
	return out
}
