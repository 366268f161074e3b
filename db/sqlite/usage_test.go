package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/portal"
)

func usageBatch(n int) []portal.Usage {
	calls := make([]portal.Usage, n)
	for i := range calls {
		calls[i] = portal.Usage{At: time.UnixMilli(int64(1_800_000_000_000 + i)), AppID: 1, APIID: 2, APIName: "PizzaShackAPI",
			APIVersion: "1.0.0", Method: "GET", Resource: "/menu", KeyType: "PRODUCTION", Status: 200, Latency: time.Millisecond}
	}
	return calls
}

// TestRecordUsage: a batch is written whole and reads back newest first.
func TestRecordUsage(t *testing.T) {
	d, err := sqlite.Open(filepath.Join(t.TempDir(), "apistore.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.RecordUsage(ctx, usageBatch(1200)); err != nil {
		t.Fatal(err)
	}
	got, err := d.UsageOf(ctx, 1, 2000)
	if err != nil || len(got) != 1200 {
		t.Fatalf("%d calls read back, %v", len(got), err)
	}
	if u := got[0]; u.Resource != "/menu" || u.Status != 200 || u.Latency != time.Millisecond || u.At.UnixMilli() != 1_800_000_001_199 {
		t.Errorf("newest call %+v", u)
	}
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
