package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The profiles are taken with perf on the real server process while wrk
// drives the gateway, rather than with pprof in a copy of the server built
// into the tool: the server has no profiling endpoint, and perf sees what
// pprof cannot, the kernel's share (every call's socket reads and writes,
// on both sides of the proxy). Go keeps frame pointers, so perf's own
// stack walking (-g) gives whole Go stacks.

// profileCase is one profile: a path driven by wrk, perhaps with the /token
// load alongside, and the server profiled: apistore, or nginx for
// comparison (its binary has no symbols, so only its kernel share is told).
type profileCase struct {
	name, path string
	load       bool
	nginx      bool
}

var profileCases = []profileCase{
	{name: "gateway-http", path: "gateway_nginx"},
	{name: "gateway-https", path: "gateway_nginx_tls"},
	{name: "gateway-http-token-load", path: "gateway_nginx", load: true},
	{name: "nginx-http", path: "nginx_proxy", nginx: true},
	{name: "nginx-https", path: "nginx_proxy_tls", nginx: true},
}

// profile is one profile's outcome.
type profile struct {
	c       profileCase
	run     result
	samples int
	layers  map[string]layerCPU
}

// layerCPU counts a layer's samples, and those of them in the kernel.
type layerCPU struct{ samples, kernel int }

// profileSuite profiles the SQLite node under each profile case at the
// largest connection count, keeping perf's data and the folded stacks
// (for flame graphs) in --profile's directory.
func (e *env) profileSuite(ctx context.Context) ([]profile, error) {
	if err := os.MkdirAll(e.o.profile, 0o755); err != nil {
		return nil, err
	}
	conns := slicesMax(e.o.conns)
	var out []profile
	for _, c := range profileCases {
		p, _ := pathByName(c.path)
		rs := &runSpec{e: e, d: e.sqlite, nodes: 1, conns: conns, dur: e.o.duration, round: 1}
		var tl *tokenLoad
		if c.load {
			rs.load = tokenLoadName
			tl = startTokenLoad(ctx, e.sqlite, e.o.tokenRate)
		}
		data := filepath.Join(e.o.profile, c.name+".perf.data")
		var stderr bytes.Buffer
		pids := []string{strconv.Itoa(e.sqlite.nodes[0].pid())}
		if c.nginx {
			pids = nil
			for _, pid := range processTree(e.nginx.cmd.Process.Pid) {
				pids = append(pids, strconv.Itoa(pid))
			}
		}
		rec := exec.Command(e.o.perf, "record", "-e", "cpu-clock", "-F", "999", "-g",
			"-p", strings.Join(pids, ","), "-o", data)
		rec.Stderr = &stderr
		if err := rec.Start(); err != nil {
			if tl != nil {
				tl.stop()
			}
			return out, fmt.Errorf("perf record: %w", err)
		}
		time.Sleep(300 * time.Millisecond) // perf attaches to each thread
		var before tokenCount
		if tl != nil {
			before = tl.count()
		}
		r, err := e.run(ctx, p, rs, e.o.wrk)
		rec.Process.Signal(syscall.SIGINT)
		werr := rec.Wait()
		if tl != nil {
			d := tl.count().sub(before)
			tl.stop()
			r.alongside = float64(d.ok+d.failed) / d.elapsed.Seconds()
			if d.failed > 0 {
				r.errors += int(d.failed)
				r.firstErr = fmt.Errorf("the /token load alongside: %d failed: %v", d.failed, tl.firstError())
			}
		}
		if err != nil {
			return out, err
		}
		// perf ends on SIGINT by raising it again once its data is written.
		var exit *exec.ExitError
		if werr != nil && !(errors.As(werr, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT) {
			return out, fmt.Errorf("perf record: %w\n%s", werr, stderr.String())
		}
		script, err := exec.CommandContext(ctx, e.o.perf, "script", "-i", data, "-F", "ip,sym,dso").Output()
		if err != nil {
			return out, fmt.Errorf("perf script: %w", err)
		}
		stacks := parsePerfScript(script)
		if err := writeFolded(filepath.Join(e.o.profile, c.name+".folded"), stacks); err != nil {
			return out, err
		}
		pr := profile{c: c, run: r, samples: len(stacks), layers: map[string]layerCPU{}}
		for _, s := range stacks {
			layer := layerNginx
			if !c.nginx {
				layer = classify(s)
			}
			l := pr.layers[layer]
			l.samples++
			if s[0].kernel {
				l.kernel++
			}
			pr.layers[layer] = l
		}
		out = append(out, pr)
	}
	return out, nil
}

// frame is one function of a sampled stack.
type frame struct {
	sym    string
	kernel bool
}

// parsePerfScript reads "perf script -F ip,sym,dso": one stack per sample,
// a frame a line ("ADDRESS SYMBOL (DSO)", leaf first), samples separated by
// blank lines.
func parsePerfScript(out []byte) [][]frame {
	var stacks [][]frame
	var cur []frame
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			if len(cur) > 0 {
				stacks = append(stacks, cur)
				cur = nil
			}
			continue
		}
		_, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		sym, dso := rest, ""
		if i := strings.LastIndex(rest, " ("); i >= 0 && strings.HasSuffix(rest, ")") {
			sym, dso = rest[:i], rest[i+2:len(rest)-1]
		}
		cur = append(cur, frame{sym: strings.TrimSuffix(sym, ".abi0"), kernel: dso == "[kernel.kallsyms]"})
	}
	if len(cur) > 0 {
		stacks = append(stacks, cur)
	}
	return stacks
}

// writeFolded writes stacks in the folded format of flame graph tools:
// "root;…;leaf count" per distinct stack.
func writeFolded(file string, stacks [][]frame) error {
	counts := map[string]int{}
	for _, s := range stacks {
		names := make([]string, len(s))
		for i, f := range s {
			names[len(s)-1-i] = f.sym
		}
		counts[strings.Join(names, ";")]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %d\n", k, counts[k])
	}
	return os.WriteFile(file, []byte(b.String()), 0o644)
}

// The layers a sample is counted in, in the order the report lists them.
const (
	layerHTTP      = "HTTP server (the lane, or net/http): read the request, write the answer"
	layerTLS       = "TLS (crypto/tls)"
	layerEcho      = "echo routing and apistore's middleware"
	layerRouting   = "gateway: API and resource routing"
	layerToken     = "gateway: bearer token validation and its cache"
	layerGen       = "gateway: access generation read"
	layerChecks    = "gateway: subscription, scope and tier (throttle) checks"
	layerProxy     = "reverse proxy and transport to the backend"
	layerUsage     = "usage recording"
	layerGC        = "Go runtime: garbage collection"
	layerSched     = "Go runtime: scheduler, timers, netpoll"
	layerTokenLoad = "the /token load alongside"
	layerOther     = "other"
	layerNginx     = "nginx, master and workers (the proxy, and the backend it calls)"
)

var layerOrder = []string{layerHTTP, layerTLS, layerEcho, layerRouting, layerToken, layerGen, layerChecks, layerProxy,
	layerUsage, layerGC, layerSched, layerTokenLoad, layerOther, layerNginx}

const module = "github.com/apistore/apistore/"

// alongsideRules mark work for the /token load wherever they are on the
// stack: its handlers and SQLite's writer goroutine, which commits tokens.
var alongsideRules = []string{"handlers.", "db/sqlite.(*DB).writeLoop"}

// layerRules name the layer of a function, by prefix of its name (the
// module's own without the module path); the longest prefix wins.
var layerRules = map[string]string{
	"net/http.(*conn).":                  layerHTTP,
	"net/http.(*Server).":                layerHTTP,
	"net/http.(*connReader).":            layerHTTP,
	"web/lane.":                          layerHTTP, // the gateway ports' own HTTP/1.1 server
	"web.(*countedConn).":                layerHTTP, // the server's connections, counted per address
	"web.(*connLimiter).":                layerHTTP,
	"crypto/tls.":                        layerTLS,
	"github.com/labstack/echo/":          layerEcho,
	"web.":                               layerEcho,
	"gateway.(*Gateway).ServeHTTP":       layerRouting,
	"gateway.(*routes).":                 layerRouting,
	"gateway.(*route).":                  layerRouting,
	"gateway.(*template).":               layerRouting,
	"gateway.(*statusRecorder).":         layerRouting,
	"gateway.hasDotSegment":              layerRouting,
	"gateway.bearerToken":                layerToken,
	"gateway.(*Gateway).token":           layerToken,
	"oauth.(*Server).Validate":           layerToken,
	"oauth.HashOf":                       layerToken,
	"gateway.(*Gateway).current":         layerGen,
	"db.(*cachedStore).current":          layerGen,
	"db/sqlite.(*DB).Generation":         layerGen,
	"db/postgres.(*DB).Generation":       layerGen,
	"gateway.(*Gateway).subscription":    layerChecks,
	"gateway.(*Gateway).serveAuthorized": layerChecks,
	"gateway.(*throttle).":               layerChecks,
	"net/http/httputil.":                 layerProxy,
	"net/http.(*Transport).":             layerProxy,
	"net/http.(*persistConn).":           layerProxy,
	"net/http.persistConnWriter.":        layerProxy,
	"net/http.(*persistConnWriter).":     layerProxy,
	"net/http.(*bodyEOFSignal).":         layerProxy,
	"gateway.newProxy":                   layerProxy,
	"gateway.modifyResponse":             layerProxy,
	"gateway.backendURL":                 layerProxy,
	"gateway.forward":                    layerProxy,
	"gateway.dropOwnCookies":             layerProxy,
	"gateway.builtinDialer":              layerProxy,
	"gateway.(*backendCall).":            layerProxy,
	"gateway.(*idleBody).":               layerProxy,
	"gateway.(*callerBody).":             layerProxy,
	"gateway.(*bufferPool).":             layerProxy,
	"gateway.(*backendTransport).":       layerProxy,
	"gateway.(*backendConn).":            layerProxy,
	"gateway.(*backendBody).":            layerProxy,
	"gateway.(*headerLimit).":            layerProxy,
	"gateway.(*directProxy).":            layerProxy,
	"gateway.copyHeader":                 layerProxy,
	"gateway.removeConnectionHeaders":    layerProxy,
	"gateway.(*Gateway).ServeHTTP.func":  layerUsage,
	"gateway.(*recorder).":               layerUsage,
	"runtime.gcBgMarkWorker":             layerGC,
	"runtime.gcAssistAlloc":              layerGC,
	"runtime.bgsweep":                    layerGC,
	"runtime.bgscavenge":                 layerGC,
	"runtime.gcStart":                    layerGC,
	"runtime.schedule":                   layerSched,
	"runtime.findRunnable":               layerSched,
	"runtime.mcall":                      layerSched,
	"runtime.park_m":                     layerSched,
	"runtime.netpoll":                    layerSched,
	"runtime.sysmon":                     layerSched,
	"runtime.mstart":                     layerSched,
	"runtime.goexit0":                    layerSched,
	"runtime.stopm":                      layerSched,
	"runtime.wakep":                      layerSched,
	"runtime.(*timers).":                 layerSched,
}

// classify names the layer of a sampled stack: the layer of the frame
// nearest the leaf that has one, so that work is counted where it is done
// (TLS encryption under the proxy's write counts as TLS, the proxy's own
// code under the HTTP server as the proxy).
func classify(stack []frame) string {
	for _, f := range stack {
		name := strings.TrimPrefix(f.sym, module)
		for _, r := range alongsideRules {
			if strings.HasPrefix(name, r) {
				return layerTokenLoad
			}
		}
	}
	for _, f := range stack {
		name := strings.TrimPrefix(f.sym, module)
		best := ""
		for prefix := range layerRules {
			if strings.HasPrefix(name, prefix) && len(prefix) > len(best) {
				best = prefix
			}
		}
		if best != "" {
			return layerRules[best]
		}
	}
	return layerOther
}

// printProfiles writes each profile's layers: their share of the server's
// CPU time and, from the CPU time per call that /proc gave, their cost per
// call.
func printProfiles(w io.Writer, profiles []profile, dir string) {
	for _, p := range profiles {
		r := p.run
		server, cpu := "apistore", r.cpu.apistore
		if p.c.nginx {
			server, cpu = "nginx", r.cpu.nginx
		}
		fmt.Fprintf(w, "### Where %s's CPU goes: %s under wrk, %d connections", server, r.path, r.conns)
		if p.c.load {
			fmt.Fprintf(w, ", with the /token load alongside (%.0f/s)", r.alongside)
		}
		perCall := -1.0
		if cpu >= 0 && r.requests > 0 {
			perCall = float64(cpu.Microseconds()) / float64(r.requests)
		}
		fmt.Fprintf(w, "\n\n%.0f req/s under perf, %d errors; %s used %.1f µs of CPU per call (/proc); %d samples (perf record -e cpu-clock -F 999 -g), in %s.\n\n",
			r.rate(), r.errors, server, perCall, p.samples, filepath.Join(dir, p.c.name+".folded"))
		fmt.Fprintf(w, "| layer | share of %s's CPU | µs per call | of which in the kernel |\n| --- | ---: | ---: | ---: |\n", server)
		for _, name := range layerOrder {
			l, ok := p.layers[name]
			if !ok || p.samples == 0 {
				continue
			}
			share := float64(l.samples) / float64(p.samples)
			us, kus := "?", "?"
			if perCall >= 0 {
				us = fmt.Sprintf("%.1f", share*perCall)
				kus = fmt.Sprintf("%.1f", float64(l.kernel)/float64(p.samples)*perCall)
			}
			fmt.Fprintf(w, "| %s | %.1f%% | %s | %s |\n", name, 100*share, us, kus)
		}
		fmt.Fprintln(w)
	}
}
