package main

import (
	"os"
	"testing"
	"time"
)

// TestParseWrk reads reports that wrk 4.1 wrote on this project's machine.
func TestParseWrk(t *testing.T) {
	tests := []struct {
		file     string
		requests int
		elapsed  time.Duration
		p50, p99 time.Duration
		errors   int
	}{
		{"testdata/wrk.txt", 79332, 1100 * time.Millisecond, 154 * time.Microsecond, 6610 * time.Microsecond, 0},
		{"testdata/wrk-errors.txt", 2403, 1100 * time.Millisecond, 815 * time.Microsecond, 2030 * time.Microsecond, 2403},
		// Latencies of a second or more come with a trailing space.
		{"testdata/wrk-seconds.txt", 20326, 3780 * time.Millisecond, 3460 * time.Microsecond, 1480 * time.Millisecond, 0},
	}
	for _, tt := range tests {
		out, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		r, err := parseWrk(out)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if r.requests != tt.requests || r.elapsed != tt.elapsed || r.p50 != tt.p50 || r.p99 != tt.p99 || r.errors != tt.errors {
			t.Errorf("%s: got %d requests in %v, p50 %v, p99 %v, %d errors; want %d in %v, %v, %v, %d", tt.file,
				r.requests, r.elapsed, r.p50, r.p99, r.errors, tt.requests, tt.elapsed, tt.p50, tt.p99, tt.errors)
		}
		if (r.errors > 0) != (r.firstErr != nil) {
			t.Errorf("%s: errors %d but first error %v", tt.file, r.errors, r.firstErr)
		}
	}
	if _, err := parseWrk([]byte("unable to connect to 127.0.0.1:1 Connection refused\n")); err == nil {
		t.Error("a report without figures was accepted")
	}
}
