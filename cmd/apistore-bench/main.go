// Command apistore-bench measures apistore's hot paths as a client would: it
// starts the real server binary on a temporary data directory, provisions a
// user, an application, an API and tokens itself, and drives each path at
// several connection counts for a set time, printing requests per second,
// p50 and p99 latency, errors and the server's peak RSS per run.
//
//	go build -o bin/apistore ./cmd/apistore
//	go run ./cmd/apistore-bench --bin bin/apistore --duration 10s --conns 1,16,64 --preload 1000000
//
// With --wrk, the paths that are plain GETs (the gateway, the backend called
// directly and through a byte-copying relay) are driven by wrk instead, a
// load generator that takes less of the shared CPU.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apistore-bench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	bin      string
	duration time.Duration
	conns    []int
	paths    []string
	preload  int
	wrk      string
}

func parseOptions(args []string, out io.Writer) (*options, error) {
	fs := flag.NewFlagSet("apistore-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	o := &options{}
	fs.StringVar(&o.bin, "bin", "bin/apistore", "the apistore binary to start")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each path is driven at each connection count")
	conns := fs.String("conns", "1,16,64", "comma-separated connection counts")
	names := fs.String("paths", strings.Join(pathNames(), ","), "comma-separated paths to drive")
	fs.IntVar(&o.preload, "preload", 0, "then run every path again on a database holding this many more live tokens")
	fs.StringVar(&o.wrk, "wrk", "", "drive the paths that are plain GETs (gateway, backend_direct, backend_relay) with this wrk binary")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, c := range strings.Split(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--conns: %q is not a positive number", c)
		}
		o.conns = append(o.conns, n)
	}
	for _, p := range strings.Split(*names, ",") {
		p = strings.TrimSpace(p)
		if _, ok := pathByName(p); !ok {
			return nil, fmt.Errorf("--paths: unknown path %q (known: %s)", p, strings.Join(pathNames(), ", "))
		}
		o.paths = append(o.paths, p)
	}
	if o.duration <= 0 {
		return nil, errors.New("--duration must be positive")
	}
	if o.wrk != "" {
		wrk, err := exec.LookPath(o.wrk)
		if err != nil {
			return nil, fmt.Errorf("--wrk: %w", err)
		}
		o.wrk = wrk
	}
	return o, nil
}

// run provisions, starts the server and prints one table per database size.
func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseOptions(args, out)
	if err != nil {
		return err
	}
	e, err := setUp(ctx, o)
	if err != nil {
		return err
	}
	defer e.close()
	fmt.Fprintf(out, "apistore-bench: %d paths × connections %v × %v each", len(o.paths), o.conns, o.duration)
	if o.wrk != "" {
		fmt.Fprintf(out, "; plain GETs driven by %s", o.wrk)
	}
	fmt.Fprint(out, "\n\n")
	results, err := e.suite(ctx, o)
	if err != nil {
		return err
	}
	printResults(out, "Fresh database", results)
	failed := countErrors(results)
	if o.preload > 0 {
		perToken, err := e.preload(ctx, o.preload)
		if err != nil {
			return err
		}
		results, err := e.suite(ctx, o)
		if err != nil {
			return err
		}
		printResults(out, fmt.Sprintf("With %d more live tokens stored (%.0f bytes on disk per token)", o.preload, perToken), results)
		failed += countErrors(results)
	}
	if failed > 0 {
		return fmt.Errorf("%d requests failed: the results above do not count", failed)
	}
	return nil
}

func countErrors(results []result) int {
	n := 0
	for _, r := range results {
		n += r.errors
	}
	return n
}
