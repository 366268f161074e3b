package main

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics and parses it as Prometheus scrapes it.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// value is the sum of a family's samples whose labels include labels (a
// histogram's count), 0 when there are none.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := families[name]
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && have[labels[i]] == labels[i+1]
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// freePort is a loopback port nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestMetrics: after known traffic (tokens, gateway calls answered 200, 403
// for a missing scope and 429 over a Bronze tier), the counters scraped
// from --metrics-addr moved by exactly that, and /metrics is not served on
// the public ports.
func TestMetrics(t *testing.T) {
	dir := newDataDir(t)
	addr := "127.0.0.1:" + freePort(t)
	s := startServer(t, dir, nil, "--store-port", "0", "--https-port", "0", "--http-port", "0", "--metrics-addr", addr,
		"--tier-bronze", "3")
	metricsURL := "http://" + addr + "/metrics"
	s.admin(t, "s3cret-password\n", "user create", "--username", "alice")
	var k keys
	if err := json.Unmarshal([]byte(s.admin(t, "", "app create", "--owner", "alice", "--name", "Shop")), &k); err != nil {
		t.Fatal(err)
	}
	d := openStore(t, dir)
	alice, err := d.UserAccount(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := d.ApplicationsByOwner(t.Context(), alice.ID)
	if err != nil || len(apps) != 1 {
		t.Fatalf("applications: %v %v", apps, err)
	}
	pizza, err := d.APIByContext(t.Context(), "/pizzashack", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Subscribe(t.Context(), apps[0].ID, pizza.ID, "Bronze"); err != nil {
		t.Fatal(err)
	}

	before := scrape(t, metricsURL)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(k.Production.ConsumerKey+":"+k.Production.ConsumerSecret))
	var token string
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, s.urls["http"]+"/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Authorization", basic)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		if tr.AccessToken == "" {
			t.Fatalf("token: %d", resp.StatusCode)
		}
		token = tr.AccessToken
	}
	get := func(path string, status int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.urls["http"]+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, status)
		}
	}
	get("/pizzashack/1.0.0/order/1", http.StatusForbidden) // no scope read
	for range 3 {
		get("/pizzashack/1.0.0/menu", http.StatusOK)
	}
	get("/pizzashack/1.0.0/menu", http.StatusTooManyRequests)
	get("/pizzashack/1.0.0/menu", http.StatusTooManyRequests)

	after := scrape(t, metricsURL)
	pizzaLabels := []string{"api", "PizzaShackAPI", "version", "1.0.0"}
	for _, c := range []struct {
		name   string
		labels []string
		delta  float64
	}{
		{"apistore_oauth_tokens_issued_total", []string{"grant_type", "client_credentials"}, 2},
		{"apistore_http_requests_total", []string{"listener", "api", "route", "/token", "method", "POST", "code", "200"}, 2},
		{"apistore_http_request_duration_seconds", []string{"listener", "api", "route", "/token"}, 2},
		{"apistore_gateway_calls_total", append(pizzaLabels, "code", "200"), 3},
		{"apistore_gateway_calls_total", append(pizzaLabels, "code", "403"), 1},
		{"apistore_gateway_calls_total", append(pizzaLabels, "code", "429"), 2},
		{"apistore_gateway_call_duration_seconds", pizzaLabels, 6},
		{"apistore_gateway_refused_total", append(pizzaLabels, "fault", "900910"), 1},
		{"apistore_gateway_refused_total", append(pizzaLabels, "fault", "900800"), 2},
		{"apistore_gateway_refused_total", append(pizzaLabels, "fault", "900908"), 0},
		// The gateway keeps the token it validated once (its own cache).
		{"apistore_cache_misses_total", []string{"cache", "tokens"}, 1},
		{"apistore_cache_hits_total", []string{"cache", "tokens"}, 0},
		// The second /token request finds the consumer key cached.
		{"apistore_cache_misses_total", []string{"cache", "clients"}, 1},
		{"apistore_cache_hits_total", []string{"cache", "clients"}, 1},
	} {
		if got := value(after, c.name, c.labels...) - value(before, c.name, c.labels...); got != c.delta {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.delta)
		}
	}
	for _, name := range []string{"apistore_usage_queue_depth", "go_goroutines", "go_gc_duration_seconds", "process_cpu_seconds_total"} {
		if after[name] == nil {
			t.Errorf("%s is not exported", name)
		}
	}
	// The usage writer commits the six calls within its interval (1s).
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := scrape(t, metricsURL)
		after = m
		written := value(m, "apistore_usage_written_calls_total") - value(before, "apistore_usage_written_calls_total")
		if written == 6 && value(m, "apistore_usage_write_duration_seconds", "result", "ok") > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage calls written: %v, want 6", written)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The Grafana dashboard in docs/ is built on names the server exports.
	dashboard, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`(apistore|go)_[a-z_]+`).FindAllString(string(dashboard), -1) {
		family := strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count")
		if after[family] == nil {
			t.Errorf("docs/grafana-dashboard.json uses %s, which is not exported", name)
		}
	}
	if !strings.Contains(s.log(), "metrics: "+metricsURL) {
		t.Errorf("the metrics URL is not printed:\n%s", s.log())
	}
	// Not on the public ports.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, base := range []string{s.urls["http"], strings.TrimSuffix(s.urls["https"], "/"), strings.TrimSuffix(s.urls["store"], "/store")} {
		resp, err := insecure.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "apistore_") {
			t.Errorf("%s/metrics: %d %s", base, resp.StatusCode, body)
		}
	}
}

// TestMetricsOff: --metrics-addr= (empty) opens no metrics listener.
func TestMetricsOff(t *testing.T) {
	s := startServer(t, newDataDir(t), nil, "--store-port", "0", "--https-port", "0", "--http-port", "0", "--metrics-addr=")
	// The listeners are printed together, before any is served.
	resp, err := http.Get(s.urls["http"] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if strings.Contains(s.log(), "metrics:") {
		t.Errorf("a metrics listener with --metrics-addr=:\n%s", s.log())
	}
}
