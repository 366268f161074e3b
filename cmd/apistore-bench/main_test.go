package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
)

var bin string

func TestMain(m *testing.M) { fixture.MainWithApistore(m, &bin) }

// TestSmoke drives every path briefly, then again on a preloaded database:
// the run must end without a single failed request. It measures nothing.
func TestSmoke(t *testing.T) {
	defer func(rate int) { revokeRate = rate }(revokeRate)
	revokeRate = 2500 // 1,000 tokens a run, not 5,000: storing them was most of the test's CPU
	var out bytes.Buffer
	err := run(context.Background(), []string{"--bin", bin, "--duration", "200ms", "--conns", "1,4", "--preload", "2000"}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, name := range pathNames() {
		if strings.Count(out.String(), "| "+name+" |") != 4 {
			t.Errorf("path %s is not reported twice per connection count:\n%s", name, out.String())
		}
	}
	if !strings.Contains(out.String(), "Gateway at 4 connections") || !strings.Contains(out.String(), "relay at 4 connections") ||
		!strings.Contains(out.String(), "bytes on disk per token") {
		t.Errorf("summary lines missing:\n%s", out.String())
	}
}

// TestSmokeWrk drives the plain GET paths with wrk, which make test
// installs (scripts/deps.sh).
func TestSmokeWrk(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed: scripts/deps.sh installs it")
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"--bin", bin, "--wrk", "wrk", "--duration", "1s", "--conns", "2",
		"--paths", "gateway,backend_direct,backend_relay,introspect"}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"driven by ", "| gateway | 2 |", "| backend_relay | 2 |", "| introspect | 2 |",
		"Gateway at 2 connections", "relay at 2 connections"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("%q missing:\n%s", want, out.String())
		}
	}
}

// TestSmokePostgres runs the PostgreSQL comparison briefly on the server of
// APISTORE_TEST_POSTGRES (scripts/postgres.sh run sets it): every store
// path on SQLite, on one node and on two, and both baselines.
func TestSmokePostgres(t *testing.T) {
	admin := os.Getenv("APISTORE_TEST_POSTGRES")
	if admin == "" {
		t.Skip("APISTORE_TEST_POSTGRES is not set: run under scripts/postgres.sh run")
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"--bin", bin, "--paths", "none", "--database", admin, "--nodes", "1,2",
		"--duration", "300ms", "--conns", "4"}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, name := range storePaths {
		for _, want := range []string{"| " + name + " | SQLite | 1 | 4 |", "| " + name + " | PostgreSQL | 1 | 4 |", "| " + name + " | PostgreSQL | 2 | 4 |"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%q missing:\n%s", want, out.String())
			}
		}
	}
	for _, want := range []string{"| pg_insert_baseline | pgx | – | 4 |", "| pg_select_baseline | pgx | – | 4 |",
		"the INSERT baseline (target ≥ 0.7)", "SQLite's (target ≥ 0.8)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("%q missing:\n%s", want, out.String())
		}
	}
}

// TestSmokeNginx runs the comparison with nginx briefly, with and without
// the /token load alongside, and profiles it when perf can.
func TestSmokeNginx(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed: scripts/deps.sh installs it")
	}
	if nginx, _ := findNginx("auto"); nginx == "" {
		t.Skip("nginx is not installed: scripts/deps.sh installs it")
	}
	args := []string{"--bin", bin, "--paths", "none", "--wrk", "wrk", "--nginx", "auto", "--duration", "1s", "--conns", "2",
		"--token-rate", "50"}
	_, perfErr := exec.LookPath("perf")
	profile := perfErr == nil && os.Geteuid() == 0 // perf may see only its own user's processes' user space otherwise
	if profile {
		args = append(args, "--profile", t.TempDir())
	}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, p := range nginxPaths {
		for _, want := range []string{"| " + p.name + " | – | 2 |", "| " + p.name + " | /token "} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%q missing:\n%s", want, out.String())
			}
		}
	}
	if !strings.Contains(out.String(), "| 2 | /token | 1 |") {
		t.Errorf("ratios missing:\n%s", out.String())
	}
	if profile && !strings.Contains(out.String(), layerProxy) {
		t.Errorf("profile missing:\n%s", out.String())
	}
}

func TestOptions(t *testing.T) {
	for _, args := range [][]string{{"--conns", "0"}, {"--conns", "x"}, {"--paths", "nope"}, {"--duration", "0s"}, {"--wrk", "no-such-wrk"},
		{"--database", "mysql://db"}, {"--database", "auto", "--nodes", "0"}, {"--database", "auto", "--pg-paths", "backend_direct"},
		{"--nginx", "auto"}, {"--wrk", "wrk", "--nginx", "no-such-nginx"}, {"--rounds", "0"}} {
		if _, _, err := parseOptions(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseOptions(%v) accepted", args)
		}
	}
}
