package main

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"time"
)

// driveWrk runs wrk, the C load generator, against u for d at conns
// connections and reads its report. wrk costs the shared CPU less than the
// built-in client, so a ratio to the backend's direct throughput comes out
// nearer what the server side alone allows.
func driveWrk(ctx context.Context, wrk, u, authorization string, conns int, d time.Duration) result {
	args := []string{"-t", strconv.Itoa(min(conns, runtime.NumCPU())), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))) + "s", "--latency"}
	if authorization != "" {
		args = append(args, "-H", "Authorization: "+authorization)
	}
	cmd := exec.CommandContext(ctx, wrk, append(args, u)...)
	out, err := cmd.Output()
	var r result
	if err == nil {
		r, err = parseWrk(out)
		r.clientCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		r.errors, r.firstErr = max(r.errors, 1), fmt.Errorf("wrk: %w", err)
	}
	r.conns = conns
	return r
}

var (
	wrkTotal   = regexp.MustCompile(`(\d+) requests in ([\d.]+\w+),`)
	wrkPercent = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+\w+)[ \t]*$`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads the report of wrk --latency. Answers other than 2xx and 3xx
// and socket errors count as errors.
func parseWrk(out []byte) (result, error) {
	var r result
	total := wrkTotal.FindSubmatch(out)
	if total == nil {
		return r, fmt.Errorf("no request count in its report: %q", out)
	}
	r.requests, _ = strconv.Atoi(string(total[1]))
	var err error
	if r.elapsed, err = time.ParseDuration(string(total[2])); err != nil {
		return r, err
	}
	for _, m := range wrkPercent.FindAllSubmatch(out, -1) {
		d, err := time.ParseDuration(string(m[2]))
		if err != nil {
			return r, err
		}
		if string(m[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return r, fmt.Errorf("no latency distribution in its report (run with --latency): %q", out)
	}
	var counts []int
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		counts = append(counts, atoi(m[1]))
	}
	if m := wrkSocket.FindSubmatch(out); m != nil {
		counts = append(counts, atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4]))
	}
	for _, n := range counts {
		r.errors += n
	}
	if r.errors > 0 {
		r.firstErr = fmt.Errorf("%d answers were not 2xx or 3xx, or failed: %s%s",
			r.errors, wrkNon2xx.Find(out), wrkSocket.Find(out))
	}
	return r, nil
}

func atoi(b []byte) int {
	n, _ := strconv.Atoi(string(b))
	return n
}
