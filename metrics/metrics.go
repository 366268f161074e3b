// Package metrics is apistore's Prometheus instrumentation: the counters and
// histograms that the web layer, the token endpoint, the gateway and the
// store's cache report to through small hooks, and the /metrics handler
// that serves them on a listener of its own (--metrics-addr).
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/portal"
)

// Metrics holds apistore's collectors in a registry of their own (so tests
// can make one each), with the Go runtime's and the process's.
type Metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	requestSeconds  *prometheus.HistogramVec
	tokens          *prometheus.CounterVec
	gatewayCalls    *prometheus.CounterVec
	gatewaySeconds  *prometheus.HistogramVec
	gatewayRefused  *prometheus.CounterVec
	usageWrites     *prometheus.HistogramVec
	usageWriteCalls prometheus.Counter
}

// latencyBuckets suit an authorization server and a gateway: from 100 µs
// to 10 s.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New makes the collectors and registers them.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "apistore_http_requests_total",
		Help: "HTTP requests answered by the store and the token endpoints, by listener, route, method and status code (gateway calls are apistore_gateway_calls_total)."},
		[]string{"listener", "route", "method", "code"})
	m.requestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "apistore_http_request_duration_seconds",
		Help: "Time to answer an HTTP request of the store or the token endpoints, by listener and route.", Buckets: latencyBuckets},
		[]string{"listener", "route"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "apistore_oauth_tokens_issued_total",
		Help: "Access tokens issued at /token, by grant type."}, []string{"grant_type"})
	m.gatewayCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "apistore_gateway_calls_total",
		Help: "Gateway calls with a valid token, by API, version and status code."}, []string{"api", "version", "code"})
	m.gatewaySeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "apistore_gateway_call_duration_seconds",
		Help: "Time the gateway took to answer a call with a valid token, backend included, by API and version.", Buckets: latencyBuckets},
		[]string{"api", "version"})
	m.gatewayRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "apistore_gateway_refused_total",
		Help: "Gateway calls with a valid token refused or failed, by API, version and WSO2 fault code (900908 not subscribed, 900910 missing scope, 900800 throttled, 101503/101504 backend)."},
		[]string{"api", "version", "fault"})
	m.usageWrites = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "apistore_usage_write_duration_seconds",
		Help: "Time to commit a batch of usage records and their rollups, by result (ok or error).", Buckets: latencyBuckets},
		[]string{"result"})
	m.usageWriteCalls = prometheus.NewCounter(prometheus.CounterOpts{Name: "apistore_usage_written_calls_total",
		Help: "Gateway calls whose usage records were committed."})
	m.reg.MustRegister(m.requests, m.requestSeconds, m.tokens, m.gatewayCalls, m.gatewaySeconds, m.gatewayRefused,
		m.usageWrites, m.usageWriteCalls,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus's text format (or
// OpenMetrics, when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Request counts an HTTP request of a listener ("store", "https", "http")
// by its route template (/store/applications/:id), never its path.
func (m *Metrics) Request(listener, route, method string, code int, took time.Duration) {
	m.requests.WithLabelValues(listener, route, method, strconv.Itoa(code)).Inc()
	m.requestSeconds.WithLabelValues(listener, route).Observe(took.Seconds())
}

// TokenIssued counts an access token issued with a grant type.
func (m *Metrics) TokenIssued(grantType string) { m.tokens.WithLabelValues(grantType).Inc() }

// GatewayCall counts a gateway call as the usage writer records it.
func (m *Metrics) GatewayCall(u portal.Usage) {
	m.gatewayCalls.WithLabelValues(u.APIName, u.APIVersion, strconv.Itoa(u.Status)).Inc()
	m.gatewaySeconds.WithLabelValues(u.APIName, u.APIVersion).Observe(u.Latency.Seconds())
	if u.Fault != 0 {
		m.gatewayRefused.WithLabelValues(u.APIName, u.APIVersion, strconv.Itoa(u.Fault)).Inc()
	}
}

// UsageWritten times a batch of usage records committed (or failed).
func (m *Metrics) UsageWritten(calls int, took time.Duration, err error) {
	if err != nil {
		m.usageWrites.WithLabelValues("error").Observe(took.Seconds())
		return
	}
	m.usageWrites.WithLabelValues("ok").Observe(took.Seconds())
	m.usageWriteCalls.Add(float64(calls))
}

// WatchUsageQueue reports the usage records waiting to be written, read
// at each scrape.
func (m *Metrics) WatchUsageQueue(depth func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "apistore_usage_queue_depth",
		Help: "Gateway calls waiting for the usage writer."}, func() float64 { return float64(depth()) }))
}

// WatchCache reports the store's caches, read at each scrape.
func (m *Metrics) WatchCache(counts func() []db.CacheCount) {
	m.reg.MustRegister(&cacheCollector{counts: counts,
		hits: prometheus.NewDesc("apistore_cache_hits_total", "Lookups a cache of the store answered (clients: consumer keys; tokens: access tokens).",
			[]string{"cache"}, nil),
		misses: prometheus.NewDesc("apistore_cache_misses_total", "Lookups a cache of the store passed to the database.",
			[]string{"cache"}, nil)})
}

// cacheCollector reads the caches' counters at each scrape.
type cacheCollector struct {
	counts       func() []db.CacheCount
	hits, misses *prometheus.Desc
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.hits; ch <- c.misses }

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for _, n := range c.counts() {
		ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(n.Hits), n.Cache)
		ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(n.Misses), n.Cache)
	}
}
