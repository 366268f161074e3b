package sqlite_test

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/portal"
)

// usageBatch is n calls of one application, a millisecond apart.
func usageBatch(n int) []portal.Usage {
	calls := make([]portal.Usage, n)
	for i := range calls {
		calls[i] = portal.Usage{At: time.UnixMilli(int64(1_800_000_000_000 + i)), AppID: 1, APIID: 2, APIName: "PizzaShackAPI",
			APIVersion: "1.0.0", Method: "GET", Resource: "/menu", KeyType: "PRODUCTION", Status: 200, Latency: time.Millisecond}
	}
	return calls
}

// BenchmarkRecordUsage writes a batch of 500 calls.
func BenchmarkRecordUsage(b *testing.B) {
	d, err := sqlite.Open(filepath.Join(b.TempDir(), "apistore.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	calls := usageBatch(500)
	b.ReportAllocs()
	for b.Loop() {
		if err := d.RecordUsage(context.Background(), calls); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordUsageWait writes batches of 5,000 calls, the gateway's
// default, on one processor while another goroutine asks to run every
// 200 µs, as gateway calls do: it reports how late that goroutine ran,
// the wait a gateway call has behind the usage writer when the other
// processor is busy too.
func BenchmarkRecordUsageWait(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	d, err := sqlite.Open(filepath.Join(b.TempDir(), "apistore.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	calls := usageBatch(5000)
	stop, waits := make(chan struct{}), make(chan []time.Duration)
	go func() {
		var late []time.Duration
		for {
			select {
			case <-stop:
				waits <- late
				return
			default:
			}
			start := time.Now()
			time.Sleep(200 * time.Microsecond)
			late = append(late, time.Since(start)-200*time.Microsecond)
		}
	}()
	for b.Loop() {
		if err := d.RecordUsage(context.Background(), calls); err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	late := <-waits
	slices.Sort(late)
	b.ReportMetric(float64(late[len(late)/2].Microseconds()), "p50-wait-µs")
	b.ReportMetric(float64(late[len(late)*99/100].Microseconds()), "p99-wait-µs")
}
