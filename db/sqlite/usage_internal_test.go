package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apistore/apistore/portal"
)

// TestDeleteUsageBefore: old calls go, in more than one chunk; newer stay.
func TestDeleteUsageBefore(t *testing.T) {
	defer func(n int) { usagePruneChunk = n }(usagePruneChunk)
	usagePruneChunk = 100
	d, err := Open(filepath.Join(t.TempDir(), "apistore.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	calls := make([]portal.Usage, 350)
	for i := range calls {
		calls[i] = portal.Usage{At: time.UnixMilli(int64(1_800_000_000_000 + i)), AppID: 1, APIID: 2, Method: "GET", Resource: "/menu", Status: 200}
	}
	if err := d.RecordUsage(ctx, calls); err != nil {
		t.Fatal(err)
	}
	cutoff := time.UnixMilli(1_800_000_000_250)
	n, err := d.DeleteUsageBefore(ctx, cutoff)
	if err != nil || n != 250 {
		t.Fatalf("deleted %d, %v; want 250", n, err)
	}
	got, err := d.UsageOf(ctx, 1, 1000)
	if err != nil || len(got) != 100 || !got[len(got)-1].At.Equal(cutoff) {
		t.Fatalf("%d calls left, %v", len(got), err)
	}
	if n, err := d.DeleteUsageBefore(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("second prune deleted %d, %v", n, err)
	}
}
