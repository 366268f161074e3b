package sqlite_test

import (
	"context"
	"path/filepath"
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
