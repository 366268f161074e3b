// Command apistore-bench measures apistore's hot paths as a client would: it
// starts the real server binary on a temporary data directory, provisions a
// user, an application, an API and tokens itself (through package db, as
// the server's own store), and drives each path at several connection
// counts for a set time, printing requests per second, p50 and p99 latency,
// errors, the server's CPU time per request and its peak RSS per run.
//
//	go build -o bin/apistore ./cmd/apistore
//	go run ./cmd/apistore-bench --bin bin/apistore --duration 10s --conns 1,16,64 --preload 1000000
//
// With --wrk, the paths that are plain GETs (the gateway, the backend called
// directly and through a byte-copying relay) are driven by wrk instead, a
// load generator that takes less of the shared CPU.
//
// With --database (auto, or a postgres:// URL), the paths also run on
// PostgreSQL, with each number of nodes of --nodes sharing the database,
// beside SQLite and beside two baselines measured with pgx on the same
// server: one INSERT of a token's row per request, one SELECT of a row by
// its key per request.
//
// With --nginx (and --wrk), one nginx serves a fixed answer as the backend
// and proxies to it, in plain HTTP and with TLS; the gateway is driven
// against that same backend, with and without a load of /token requests
// alongside, and --profile records where the server's CPU goes with perf.
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
	"slices"
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
	paths    []string // of the SQLite suite; none with --paths none
	preload  int
	wrk      string

	database       string // "", auto or a postgres:// URL
	postgresScript string
	nodes          []int
	pgPaths        []string

	nginx     string // the nginx binary; "" for no comparison with nginx
	tokenRate int
	profile   string // where perf's profiles go; "" for none
	perf      string

	rounds int
}

// notes are what parseOptions decided to skip, printed with the results.
type notes []string

func parseOptions(args []string, out io.Writer) (*options, notes, error) {
	fs := flag.NewFlagSet("apistore-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	o := &options{}
	fs.StringVar(&o.bin, "bin", "bin/apistore", "the apistore binary to start")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each path is driven at each connection count")
	conns := fs.String("conns", "1,16,64", "comma-separated connection counts")
	names := fs.String("paths", strings.Join(pathNames(), ","), "comma-separated paths to drive on SQLite, or none")
	fs.IntVar(&o.preload, "preload", 0, "then run the SQLite paths again on a database holding this many more live tokens")
	fs.StringVar(&o.wrk, "wrk", "", "drive the paths that are plain GETs (gateway, backend_direct, backend_relay, the nginx comparison) with this wrk binary")
	fs.StringVar(&o.database, "database", "", "also compare PostgreSQL with SQLite: auto for a throw-away server started with --postgres-script, "+
		"or the postgres:// URL of a server whose user may create databases (the tool makes its own and drops it)")
	fs.StringVar(&o.postgresScript, "postgres-script", "scripts/postgres.sh", "the script that starts a throw-away PostgreSQL for --database auto")
	nodes := fs.String("nodes", "1,2", "comma-separated numbers of apistore nodes sharing the PostgreSQL database")
	pgNames := fs.String("pg-paths", strings.Join(storePaths, ","), "comma-separated paths run on each store by --database")
	fs.StringVar(&o.nginx, "nginx", "", "compare the gateway with nginx (needs --wrk): auto when installed, or the nginx binary")
	fs.IntVar(&o.tokenRate, "token-rate", 500, "requests per second of the /token load run alongside the nginx comparison")
	fs.StringVar(&o.profile, "profile", "", "with --nginx, profile the server under the gateway's wrk load with perf, keeping the profiles in this directory")
	fs.StringVar(&o.perf, "perf", "perf", "the perf binary for --profile")
	fs.IntVar(&o.rounds, "rounds", 1, "how many times the PostgreSQL and nginx comparisons run each path, one after the other")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	var skipped notes
	var err error
	if o.conns, err = positiveList("--conns", *conns); err != nil {
		return nil, nil, err
	}
	if *names != "none" {
		if o.paths, err = pathList("--paths", *names, pathNames()); err != nil {
			return nil, nil, err
		}
	}
	if o.duration <= 0 {
		return nil, nil, errors.New("--duration must be positive")
	}
	if o.rounds < 1 || o.tokenRate < 1 {
		return nil, nil, errors.New("--rounds and --token-rate must be positive")
	}
	if o.wrk != "" {
		wrk, err := exec.LookPath(o.wrk)
		if err != nil {
			return nil, nil, fmt.Errorf("--wrk: %w", err)
		}
		o.wrk = wrk
	}
	if o.database != "" {
		if o.database != "auto" && !strings.HasPrefix(o.database, "postgres://") && !strings.HasPrefix(o.database, "postgresql://") {
			return nil, nil, errors.New("--database: give auto or a postgres:// URL")
		}
		if o.nodes, err = positiveList("--nodes", *nodes); err != nil {
			return nil, nil, err
		}
		if o.pgPaths, err = pathList("--pg-paths", *pgNames, storePaths); err != nil {
			return nil, nil, err
		}
	}
	if o.nginx != "" {
		bin, err := findNginx(o.nginx)
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("--nginx: %w", err)
		case o.wrk == "":
			return nil, nil, errors.New("--nginx needs --wrk")
		case bin == "":
			skipped = append(skipped, "nginx is not installed (scripts/deps.sh installs it): the comparison with nginx is skipped.")
		}
		o.nginx = bin
	}
	if o.profile != "" {
		if o.nginx == "" {
			o.profile = ""
			skipped = append(skipped, "--profile profiles the nginx comparison's gateway runs, which are skipped.")
		} else if perf, err := exec.LookPath(o.perf); err != nil {
			o.profile = ""
			skipped = append(skipped, fmt.Sprintf("%s is not installed (Debian's linux-perf): no profiles.", o.perf))
		} else {
			o.perf = perf
		}
	}
	return o, skipped, nil
}

func positiveList(flag, v string) ([]int, error) {
	var out []int
	for _, c := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive number", flag, c)
		}
		out = append(out, n)
	}
	return out, nil
}

func pathList(flag, v string, known []string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(known, p) {
			return nil, fmt.Errorf("%s: unknown path %q (known: %s)", flag, p, strings.Join(known, ", "))
		}
		out = append(out, p)
	}
	return out, nil
}

// run provisions, starts the servers and prints one table per part.
func run(ctx context.Context, args []string, out io.Writer) error {
	o, skipped, err := parseOptions(args, out)
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
	if o.database != "" {
		fmt.Fprintf(out, "; PostgreSQL with %v nodes", o.nodes)
	}
	if o.nginx != "" {
		fmt.Fprintf(out, "; nginx (%s) beside the gateway", o.nginx)
	}
	fmt.Fprint(out, "\n\n")
	for _, n := range skipped {
		fmt.Fprintln(out, n)
	}
	if len(skipped) > 0 {
		fmt.Fprintln(out)
	}
	failed := 0
	if len(o.paths) > 0 {
		results, err := e.suite(ctx, o.paths)
		if err != nil {
			return err
		}
		printResults(out, "Fresh database", results)
		failed += countErrors(results)
		if o.preload > 0 {
			perToken, err := e.preload(ctx, o.preload)
			if err != nil {
				return err
			}
			results, err := e.suite(ctx, o.paths)
			if err != nil {
				return err
			}
			printResults(out, fmt.Sprintf("With %d more live tokens stored (%.0f bytes on disk per token)", o.preload, perToken), results)
			failed += countErrors(results)
		}
	}
	if e.pgStore != nil {
		results, err := e.postgresSuite(ctx)
		printPostgres(out, results)
		failed += countErrors(results)
		if err != nil {
			return err
		}
	}
	if e.nginx != nil {
		results, err := e.nginxSuite(ctx)
		printNginx(out, results)
		failed += countErrors(results)
		if err != nil {
			return err
		}
		if o.profile != "" {
			profiles, err := e.profileSuite(ctx)
			printProfiles(out, profiles, o.profile)
			for _, p := range profiles {
				failed += p.run.errors
			}
			if err != nil {
				return err
			}
		}
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
