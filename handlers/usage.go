package handlers

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	_ "time/tzdata" // the browser's time zone by name, on any host

	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// Usage reads the usage rollups (see portal.RollUp).
type Usage interface {
	UsageCalls(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error)
	UsageCallsByAPI(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error)
	UsageCallsByKind(ctx context.Context, q portal.UsageQuery) ([]portal.CallCount, error)
	UsageResources(ctx context.Context, q portal.UsageQuery, limit int) ([]portal.ResourceCount, error)
	UsageLatencies(ctx context.Context, q portal.UsageQuery) ([]portal.LatencyCount, error)
	UsageApps(ctx context.Context, q portal.UsageQuery) ([]portal.AppCount, error)
	UsageTopApps(ctx context.Context, q portal.UsageQuery, limit int) ([]portal.AppCount, error)
	AuditCounts(ctx context.Context, tenantID int64, span time.Duration, from, to time.Time) ([]portal.EventCount, error)
	TokenCounts(ctx context.Context, span time.Duration, from, to, now time.Time) ([]portal.EventCount, int64, error)
}

// usageRange is a range offered: its length and the width of its buckets.
type usageRange struct {
	key, label string
	length     time.Duration
	span       time.Duration
}

// usageRanges are the ranges offered, each with its length and the width
// of its buckets; "custom" is from and to as typed.
var usageRanges = []usageRange{
	{"1h", "Last hour", time.Hour, portal.Minute},
	{"24h", "Last 24 hours", 24 * time.Hour, portal.Hour},
	{"7d", "Last 7 days", 7 * portal.Day, portal.Hour},
	{"30d", "Last 30 days", 30 * portal.Day, portal.Day},
}

// maxCustomRange bounds a custom range: the day rollups' retention.
const maxCustomRange = 800 * portal.Day

// usageWindow is a range of rolled-up buckets and how to show their times.
type usageWindow struct {
	key      string
	from, to time.Time // bucket-aligned; to excluded
	span     time.Duration
	loc      *time.Location
	// fromInput and toInput are the custom range's fields.
	fromInput, toInput string
}

// localInput is the format of <input type="datetime-local">.
const localInput = "2006-01-02T15:04"

// parseUsageWindow reads ?range=&from=&to=&tz= into buckets ending with the
// current one; a range or zone that cannot be read is a 400 that says why.
func parseUsageWindow(q url.Values, now time.Time) (usageWindow, error) {
	w := usageWindow{key: cmp.Or(q.Get("range"), "24h"), loc: time.UTC}
	if tz := q.Get("tz"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			return w, echo.NewHTTPError(http.StatusBadRequest, "The time zone "+strconv.Quote(tz)+" is not known: name one such as Europe/Paris.")
		}
		w.loc = loc
	}
	if w.key == "custom" {
		w.fromInput, w.toInput = q.Get("from"), q.Get("to")
		from, err1 := time.ParseInLocation(localInput, w.fromInput, w.loc)
		to, err2 := time.ParseInLocation(localInput, w.toInput, w.loc)
		switch {
		case err1 != nil || err2 != nil:
			return w, echo.NewHTTPError(http.StatusBadRequest, "A custom range needs a start and an end, each a date and a time.")
		case !to.After(from):
			return w, echo.NewHTTPError(http.StatusBadRequest, "The end of the range must come after its start.")
		case to.Sub(from) > maxCustomRange:
			return w, echo.NewHTTPError(http.StatusBadRequest, "A range can be at most 800 days long.")
		}
		w.span = portal.Day
		switch length := to.Sub(from); {
		case length <= 6*time.Hour:
			w.span = portal.Minute
		case length <= 8*portal.Day:
			w.span = portal.Hour
		}
		// A start older than a rollup keeps is read from a coarser one.
		for w.span != portal.Day && from.Before(now.Add(-portal.RollupRetention[w.span])) {
			w.span = portal.RollupSpans[slices.Index(portal.RollupSpans, w.span)+1]
		}
		w.from, w.to = portal.BucketOf(from, w.span), portal.BucketOf(to.Add(-time.Nanosecond), w.span).Add(w.span)
		return w, nil
	}
	i := slices.IndexFunc(usageRanges, func(r usageRange) bool { return r.key == w.key })
	if i < 0 {
		return w, echo.NewHTTPError(http.StatusBadRequest, "Choose a range: the last hour, 24 hours, 7 days, 30 days, or a custom range.")
	}
	r := usageRanges[i]
	w.span = r.span
	w.to = portal.BucketOf(now, r.span).Add(r.span)
	w.from = w.to.Add(-r.length)
	w.fromInput, w.toInput = w.from.In(w.loc).Format(localInput), w.to.In(w.loc).Format(localInput)
	return w, nil
}

// query selects the window's buckets of one application or API.
func (w usageWindow) query(appID, apiID int64) portal.UsageQuery {
	return portal.UsageQuery{Span: w.span, From: w.from, To: w.to, AppID: appID, APIID: apiID}
}

// buckets are the starts of the window's buckets.
func (w usageWindow) buckets() []time.Time {
	var out []time.Time
	for b := w.from; b.Before(w.to); b = b.Add(w.span) {
		out = append(out, b)
	}
	return out
}

// label is how a bucket's start reads in the window's time zone.
func (w usageWindow) label(b time.Time) string {
	switch w.span {
	case portal.Day:
		return b.In(w.loc).Format("Mon 2 Jan 2006 15:04")
	default:
		return b.In(w.loc).Format("Mon 2 Jan 15:04")
	}
}

// seriesGrid sums values per bucket and named series, then lays them out as
// a table: a row per bucket of the window, a column per series.
type seriesGrid struct {
	w      usageWindow
	names  []string
	values map[string]map[int64]float64
}

func newSeriesGrid(w usageWindow, names ...string) *seriesGrid {
	return &seriesGrid{w: w, names: names, values: map[string]map[int64]float64{}}
}

func (g *seriesGrid) add(name string, bucket time.Time, v float64) {
	if !slices.Contains(g.names, name) {
		g.names = append(g.names, name)
	}
	if g.values[name] == nil {
		g.values[name] = map[int64]float64{}
	}
	g.values[name][bucket.Unix()] += v
}

// table is the grid as a chart's table. With gaps, a bucket without a
// value is blank (a gap in the chart) rather than 0.
func (g *seriesGrid) table(id, title, unit string, format func(float64) string, gaps bool) store.SeriesTable {
	t := store.SeriesTable{ID: id, Title: title, Unit: unit, Columns: g.names}
	for _, b := range g.w.buckets() {
		row := store.SeriesRow{T: b.Unix(), Label: g.w.label(b), Time: b.In(g.w.loc).Format(time.RFC3339)}
		for _, n := range g.names {
			v, ok := g.values[n][b.Unix()]
			switch {
			case ok:
				row.Values = append(row.Values, format(v))
			case gaps:
				row.Values = append(row.Values, "")
			default:
				row.Values = append(row.Values, "0")
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func callsText(v float64) string { return strconv.FormatInt(int64(v), 10) }

// faultNames are the refusals the dashboards tell apart; other fault codes
// count as "Other faults".
var faultNames = map[int]string{900908: "No subscription (900908)", 900910: "Missing scope (900910)", 900800: "Throttled (900800)"}

// statusClass is 2xx, 4xx…
func statusClass(status int) string { return strconv.Itoa(status/100) + "xx" }

// AppUsage is an application's usage page, GET /store/applications/:id/usage.
func (h *Handlers) AppUsage(c echo.Context) error {
	return h.usagePage(c, layout.NavApplications, h.appUsage)
}

// AppUsageCSV is one table of the usage page as CSV,
// GET /store/applications/:id/usage.csv?table=…
func (h *Handlers) AppUsageCSV(c echo.Context) error {
	return usageDownload(c, "usage-app-"+c.Param("id"), h.appUsage)
}

// usagePage renders the usage page that build reads.
func (h *Handlers) usagePage(c echo.Context, nav string, build func(echo.Context) (store.UsageView, error)) error {
	v, err := build(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, store.Usage(h.charts(h.page(c, v.Title, nav)), v))
}

// usageDownload writes one table of the usage page that build reads as
// CSV (see usageCSV).
func usageDownload(c echo.Context, file string, build func(echo.Context) (store.UsageView, error)) error {
	v, err := build(c)
	if err != nil {
		return err
	}
	return usageCSV(c, v, file)
}

// charts adds the charting scripts to a page.
func (h *Handlers) charts(p layout.Page) layout.Page {
	p.Charts = true
	return p
}

// appUsage reads an application's usage in the window the query asks for.
func (h *Handlers) appUsage(c echo.Context) (store.UsageView, error) {
	app, err := h.ownedApplication(c, c.Param("id"))
	if err != nil {
		return store.UsageView{}, err
	}
	return h.usage(c, app.ID, 0, func(w usageWindow, u usageData, apiName func(int64) string) (store.UsageView, error) {
		v := usageView(w, u.calls,
			split{"calls-by-api", "Calls by API", func(c portal.CallCount) string { return apiName(c.APIID) }, nil}, byKeyType)
		withLatency(&v, w, u.latencies)
		v.Title, v.Back, v.BackLabel = "Usage of "+app.Name, tenantPath(c, "/store/applications"), "My Applications"
		v.ShowResources = true
		v.Base = tenantPath(c, fmt.Sprintf("/store/applications/%d/usage", app.ID))
		return v, nil
	})
}

// usageData is what a usage page reads of the rollups.
type usageData struct {
	// calls are every call's counts, but on the administrators' page, which
	// reads them summed in the store: the APIs added up here, and per API
	// in byAPI.
	calls     []portal.CallCount
	byAPI     []portal.CallCount     // the administrators' page only
	resources []portal.ResourceCount // an application's page only
	latencies []portal.LatencyCount  // an application's or an API's page only
	apps      []portal.AppCount      // an API's page only
}

// usage reads the rollups of an application or an API (0: any) in the
// window the query asks for, and lays them out with view; an application's
// busiest resources are added to what view returns.
func (h *Handlers) usage(c echo.Context, appID, apiID int64, view func(usageWindow, usageData, func(int64) string) (store.UsageView, error)) (store.UsageView, error) {
	ctx := c.Request().Context()
	w, err := parseUsageWindow(c.QueryParams(), h.now())
	if err != nil {
		return store.UsageView{}, err
	}
	q := w.query(appID, apiID)
	var u usageData
	if appID == 0 && apiID == 0 {
		q.TenantID = adminTenant(h.CurrentUser(c)) // the administrators' page
		if u.calls, err = h.store.UsageCallsByKind(ctx, q); err == nil {
			u.byAPI, err = h.store.UsageCallsByAPI(ctx, q)
		}
	} else {
		u.calls, err = h.store.UsageCalls(ctx, q)
	}
	if err != nil {
		return store.UsageView{}, err
	}
	if appID != 0 {
		if u.resources, err = h.store.UsageResources(ctx, q, 10); err != nil {
			return store.UsageView{}, err
		}
	} else if apiID != 0 {
		if u.apps, err = h.store.UsageApps(ctx, q); err != nil {
			return store.UsageView{}, err
		}
	}
	// The administrators' page shows no latency: reading every API's bins
	// would cost it most of its time.
	if appID != 0 || apiID != 0 {
		if u.latencies, err = h.store.UsageLatencies(ctx, q); err != nil {
			return store.UsageView{}, err
		}
	}
	apiName, err := h.apiNames(ctx)
	if err != nil {
		return store.UsageView{}, err
	}
	v, err := view(w, u, apiName)
	if err != nil {
		return store.UsageView{}, err
	}
	for _, r := range u.resources {
		v.Resources = append(v.Resources, store.ResourceRow{API: apiName(r.APIID), Method: r.Method,
			Resource: cmp.Or(r.Resource, "(no resource matched)"), Calls: r.Calls, Errors: r.Errors})
	}
	return v, nil
}

// APIUsage is an API's usage page in the Publisher, GET
// /store/publisher/:id/usage: every application's calls, by application,
// user and tier, and the subscriptions over time.
func (h *Handlers) APIUsage(c echo.Context) error {
	return h.usagePage(c, layout.NavPublisher, h.apiUsage)
}

// APIUsageCSV is one table of an API's usage page as CSV,
// GET /store/publisher/:id/usage.csv?table=…
func (h *Handlers) APIUsageCSV(c echo.Context) error {
	return usageDownload(c, "usage-api-"+c.Param("id"), h.apiUsage)
}

func (h *Handlers) apiUsage(c echo.Context) (store.UsageView, error) {
	a, err := h.anyAPI(c)
	if err != nil {
		return store.UsageView{}, err
	}
	subs, err := h.store.SubscriptionsOfAPI(c.Request().Context(), a.ID)
	if err != nil {
		return store.UsageView{}, err
	}
	byApp := make(map[int64]portal.Subscription, len(subs))
	for _, s := range subs {
		byApp[s.AppID] = s
	}
	return h.usage(c, 0, a.ID, func(w usageWindow, u usageData, _ func(int64) string) (store.UsageView, error) {
		v := usageView(w, u.calls, byKeyType)
		withLatency(&v, w, u.latencies)
		// An application no longer subscribed (or deleted) keeps its calls.
		of := func(pick func(portal.Subscription) string) func(portal.AppCount) string {
			return func(c portal.AppCount) string {
				if s, ok := byApp[c.AppID]; ok {
					return pick(s)
				}
				return "Application #" + strconv.FormatInt(c.AppID, 10) + " (not subscribed)"
			}
		}
		v.Charts = append(appCharts(w, u.apps,
			appSplit{"calls-by-application", "Calls by application", of(func(s portal.Subscription) string { return s.AppName + " (" + s.Owner + ")" })},
			appSplit{"calls-by-user", "Calls by user", of(func(s portal.Subscription) string { return s.Owner })},
			appSplit{"calls-by-tier", "Calls by tier", of(func(s portal.Subscription) string { return s.Tier })}), v.Charts...)
		subscribed := newSeriesGrid(w, "Subscriptions")
		for _, b := range w.buckets() {
			end := b.Add(w.span)
			for _, s := range subs {
				if s.CreatedAt.Before(end) {
					subscribed.add("Subscriptions", b, 1)
				}
			}
		}
		v.Charts = append(v.Charts, subscribed.table("subscriptions", "Subscriptions (those in place now, by when they began)", "subscriptions", callsText, false))
		v.Title, v.Back, v.BackLabel = "Usage of "+a.Name+" "+a.Version, tenantPath(c, "/store/publisher"), "Publisher"
		v.Base = tenantPath(c, fmt.Sprintf("/store/publisher/%d/usage", a.ID))
		return v, nil
	})
}

// apiNames names APIs by id, "Name version"; an API deleted since is
// named by its id.
func (h *Handlers) apiNames(ctx context.Context) (func(int64) string, error) {
	apis, err := h.store.AllAPIs(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[int64]string, len(apis))
	for _, a := range apis {
		names[a.ID] = a.Name + " " + a.Version
	}
	return func(id int64) string { return cmp.Or(names[id], "API #"+strconv.FormatInt(id, 10)) }, nil
}

// PlatformUsage is the administrators' usage page, GET /store/admin/usage:
// the gateway's calls by API, the top applications, tokens issued per grant
// type, active tokens, and failed log-ins and lockouts. A tenant's
// administrators see the calls to their tenant's APIs and their tenant's
// failed log-ins and lockouts; the token figures, which no tenant owns
// alone, are the super tenant's administrators'.
func (h *Handlers) PlatformUsage(c echo.Context) error {
	return h.usagePage(c, layout.NavUsage, h.platformUsage)
}

// PlatformUsageCSV is one table of the administrators' usage page as CSV,
// GET /store/admin/usage.csv?table=…
func (h *Handlers) PlatformUsageCSV(c echo.Context) error {
	return usageDownload(c, "usage-platform", h.platformUsage)
}

// topApps is how many applications the administrators' page lists.
const topApps = 10

func (h *Handlers) platformUsage(c echo.Context) (store.UsageView, error) {
	ctx, me := c.Request().Context(), h.CurrentUser(c)
	tenant := adminTenant(me)
	return h.usage(c, 0, 0, func(w usageWindow, u usageData, apiName func(int64) string) (store.UsageView, error) {
		names, err := h.applicationNames(ctx, tenant)
		if err != nil {
			return store.UsageView{}, err
		}
		v := usageView(w, u.calls, byKeyType)
		byAPI := newSeriesGrid(w)
		for _, c := range u.byAPI {
			byAPI.add(apiName(c.APIID), c.Bucket, float64(c.Calls))
		}
		slices.Sort(byAPI.names)
		v.Charts = slices.Insert(v.Charts, 0, byAPI.table("calls-by-api", "Gateway calls by API", "calls", callsText, false))
		q := w.query(0, 0)
		q.TenantID = tenant
		top, err := h.store.UsageTopApps(ctx, q, topApps)
		if err != nil {
			return store.UsageView{}, err
		}
		for _, a := range top {
			v.Apps = append(v.Apps, store.AppRow{Name: cmp.Or(names[a.AppID], "Application #"+strconv.FormatInt(a.AppID, 10)),
				Calls: a.Calls, Errors: a.Errors})
		}
		events, err := h.store.AuditCounts(ctx, tenant, w.span, w.from, w.to)
		if err != nil {
			return store.UsageView{}, err
		}
		logins := newSeriesGrid(w, "Failed log-ins", "Lockouts")
		for _, e := range events {
			switch e.Name {
			case portal.AuditLoginFailed:
				logins.add("Failed log-ins", e.Bucket, float64(e.Count))
			case portal.AuditLockout:
				logins.add("Lockouts", e.Bucket, float64(e.Count))
			}
		}
		v.Title, v.Back, v.BackLabel = "Platform usage", tenantPath(c, usersPath), "Users"
		v.Base = tenantPath(c, "/store/admin/usage")
		if tenant != 0 {
			v.Charts = append(v.Charts, logins.table("failed-logins", "Failed log-ins and lockouts", "events", callsText, false))
			v.Title = "Usage of " + me.Tenant + "'s APIs"
			return v, nil
		}
		issued, active, err := h.store.TokenCounts(ctx, w.span, w.from, w.to, h.now())
		if err != nil {
			return store.UsageView{}, err
		}
		tokens := newSeriesGrid(w)
		for _, e := range issued {
			tokens.add(e.Name, e.Bucket, float64(e.Count))
		}
		slices.Sort(tokens.names)
		v.Charts = append(v.Charts, tokens.table("tokens-issued", "Tokens issued by grant type", "tokens", callsText, false),
			logins.table("failed-logins", "Failed log-ins and lockouts", "events", callsText, false))
		v.Totals = append(v.Totals, store.Stat{Label: "Active tokens now", Value: strconv.FormatInt(active, 10)})
		return v, nil
	})
}

// applicationNames names every application subscribed to an API of a
// tenant (0: of any tenant) "Name (owner)".
func (h *Handlers) applicationNames(ctx context.Context, tenant int64) (map[int64]string, error) {
	apis, err := h.store.AllAPIs(ctx)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, a := range apis {
		if tenant != 0 && !a.OwnedBy(tenant) {
			continue
		}
		subs, err := h.store.SubscriptionsOfAPI(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		for _, s := range subs {
			names[s.AppID] = s.AppName + " (" + s.Owner + ")"
		}
	}
	return names, nil
}

// appSplit is a chart of the calls of many applications by what by names
// for an application.
type appSplit struct {
	id, title string
	by        func(portal.AppCount) string
}

// appCharts are the charts of the calls of many applications, one per
// split.
func appCharts(w usageWindow, apps []portal.AppCount, splits ...appSplit) []store.SeriesTable {
	var out []store.SeriesTable
	for _, sp := range splits {
		g := newSeriesGrid(w)
		for _, c := range apps {
			g.add(sp.by(c), c.Bucket, float64(c.Calls))
		}
		slices.Sort(g.names)
		out = append(out, g.table(sp.id, sp.title, "calls", callsText, false))
	}
	return out
}

// usageView lays out rolled-up calls as the usage page's totals and
// charts.
// split is a chart of the calls by one of their dimensions: by names
// the series of a call; columns are shown even without calls.
type split struct {
	id, title string
	by        func(portal.CallCount) string
	columns   []string
}

// byKeyType splits calls by key type.
var byKeyType = split{"calls-by-key-type", "Calls by key type", func(c portal.CallCount) string { return c.KeyType },
	[]string{"PRODUCTION", "SANDBOX"}}

func usageView(w usageWindow, calls []portal.CallCount, splits ...split) store.UsageView {
	grids := make([]*seriesGrid, len(splits))
	for i, sp := range splits {
		grids[i] = newSeriesGrid(w, sp.columns...)
	}
	byClass := newSeriesGrid(w, "2xx", "4xx", "5xx")
	byFault := newSeriesGrid(w, faultNames[900908], faultNames[900910], faultNames[900800])
	var total, errs int64
	classes := map[string]int64{}
	faults := map[string]int64{}
	for _, c := range calls {
		n := float64(c.Calls)
		for i, sp := range splits {
			grids[i].add(sp.by(c), c.Bucket, n)
		}
		byClass.add(statusClass(c.Status), c.Bucket, n)
		if c.Fault != 0 {
			name := cmp.Or(faultNames[c.Fault], "Other faults")
			byFault.add(name, c.Bucket, n)
			faults[name] += c.Calls
		}
		total += c.Calls
		classes[statusClass(c.Status)] += c.Calls
		if c.Status >= 400 {
			errs += c.Calls
		}
	}
	for i, sp := range splits {
		if sp.columns == nil {
			slices.Sort(grids[i].names)
		}
	}
	v := store.UsageView{Range: w.key, From: w.fromInput, To: w.toInput, TZ: w.loc.String(),
		Showing: fmt.Sprintf("From %s to %s (%s), per %s", w.label(w.from), w.label(w.to), w.loc, spanName(w.span))}
	for _, r := range usageRanges {
		v.Ranges = append(v.Ranges, store.RangeOption{Key: r.key, Label: r.label})
	}
	v.Ranges = append(v.Ranges, store.RangeOption{Key: "custom", Label: "Custom range"})
	v.Totals = []store.Stat{{Label: "Calls", Value: strconv.FormatInt(total, 10)}}
	for _, class := range []string{"2xx", "4xx", "5xx"} {
		v.Totals = append(v.Totals, store.Stat{Label: class, Value: strconv.FormatInt(classes[class], 10)})
	}
	for _, name := range byFault.names {
		v.Totals = append(v.Totals, store.Stat{Label: name, Value: strconv.FormatInt(faults[name], 10)})
	}
	v.Totals = append(v.Totals, store.Stat{Label: "Error rate", Value: percent(errs, total)})
	for i, sp := range splits {
		v.Charts = append(v.Charts, grids[i].table(sp.id, sp.title, "calls", callsText, false))
	}
	v.Charts = append(v.Charts,
		byClass.table("answers-by-status", "Answers by status class", "calls", callsText, false),
		byFault.table("refusals-by-fault", "Refusals by fault code", "calls", callsText, false),
	)
	return v
}

// withLatency adds the latency percentiles of the range to a usage page's
// totals, and a chart of them per bucket.
func withLatency(v *store.UsageView, w usageWindow, latencies []portal.LatencyCount) {
	perBucket := map[int64]map[int]int64{}
	all := map[int]int64{}
	for _, l := range latencies {
		if perBucket[l.Bucket.Unix()] == nil {
			perBucket[l.Bucket.Unix()] = map[int]int64{}
		}
		perBucket[l.Bucket.Unix()][l.Bin] += l.Calls
		all[l.Bin] += l.Calls
	}
	byLatency := newSeriesGrid(w, "p50", "p95", "p99")
	ps := []float64{0.5, 0.95, 0.99}
	for b, bins := range perBucket {
		for i, p := range ps {
			byLatency.add(byLatency.names[i], time.Unix(b, 0), ms(portal.Percentile(bins, p)))
		}
	}
	for i, p := range ps {
		v.Totals = append(v.Totals, store.Stat{Label: byLatency.names[i] + " latency", Value: msText(portal.Percentile(all, p))})
	}
	v.Charts = append(v.Charts, byLatency.table("latency", "Latency percentiles", "ms", msNumber, true))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func msNumber(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func msText(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return msNumber(ms(d)) + " ms"
}

func percent(n, of int64) string {
	if of == 0 {
		return "none"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 1, 64) + "%"
}

func spanName(span time.Duration) string {
	switch span {
	case portal.Minute:
		return "minute"
	case portal.Hour:
		return "hour"
	}
	return "UTC day"
}

// usageCSV writes the table of a usage page named by ?table= as CSV: the
// numbers of its chart, or the busiest resources.
func usageCSV(c echo.Context, v store.UsageView, file string) error {
	name := c.QueryParam("table")
	var records [][]string
	switch name {
	case "resources":
		records = [][]string{{"api", "method", "resource", "calls", "errors"}}
		for _, r := range v.Resources {
			records = append(records, []string{r.API, r.Method, r.Resource, strconv.FormatInt(r.Calls, 10), strconv.FormatInt(r.Errors, 10)})
		}
	case "top-applications":
		records = [][]string{{"application", "calls", "errors"}}
		for _, a := range v.Apps {
			records = append(records, []string{a.Name, strconv.FormatInt(a.Calls, 10), strconv.FormatInt(a.Errors, 10)})
		}
	default:
		i := slices.IndexFunc(v.Charts, func(t store.SeriesTable) bool { return t.ID == name })
		if i < 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "There is no table "+strconv.Quote(name)+" on this page.")
		}
		t := v.Charts[i]
		records = [][]string{append([]string{"time"}, t.Columns...)}
		for _, r := range t.Rows {
			records = append(records, append([]string{r.Time}, r.Values...))
		}
	}
	noStore(c)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s.csv"`, file, name))
	c.Response().WriteHeader(http.StatusOK)
	cw := csv.NewWriter(c.Response())
	if err := cw.WriteAll(records); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}
