package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the unit of /proc/PID/stat's times, USER_HZ, which Linux
// fixes at 100 on every architecture Go supports (sysconf(_SC_CLK_TCK)
// needs cgo to ask).
const clockTicks = 100

// procStat is what the benchmark reads of /proc/PID/stat.
type procStat struct {
	ppid int
	// own is the CPU time the process used itself (utime + stime); waited
	// is what its children that it has waited for used (cutime + cstime).
	own, waited time.Duration
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(raw))
}

// parseStat reads the fields after the command name, which is in
// parentheses and may hold spaces and parentheses itself: state (field 3),
// ppid (4), …, utime (14), stime (15), cutime (16), cstime (17).
func parseStat(s string) (procStat, error) {
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("no command name in %q", s)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("too few fields in %q", s)
	}
	var n [5]int64
	for i, idx := range []int{1, 11, 12, 13, 14} {
		v, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("field %d of %q: %w", idx+3, s, err)
		}
		n[i] = v
	}
	tick := time.Second / clockTicks
	return procStat{ppid: int(n[0]), own: time.Duration(n[1]+n[2]) * tick, waited: time.Duration(n[3]+n[4]) * tick}, nil
}

// processCPU is the CPU time a process has used so far.
func processCPU(pid int) (time.Duration, bool) {
	st, err := readStat(pid)
	return st.own, err == nil
}

// treeCPU is the CPU time used so far by a server that forks a process per
// worker or connection (nginx, PostgreSQL): the parent, its live children
// and every child that has ended (the kernel adds those to the parent's
// waited time once it reaps them). A child that ended but was not reaped
// yet is missed until it is, so a connection closed during a run can move
// its time from one run to the next; the benchmark's connections stay open.
func treeCPU(root int) (time.Duration, bool) {
	var total time.Duration
	for _, pid := range processTree(root) {
		st, err := readStat(pid)
		switch {
		case err == nil:
			total += st.own + st.waited
		case pid == root:
			return 0, false
		}
	}
	return total, true
}

// processTree is root and its children.
func processTree(root int) []int {
	pids := []int{root}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == root {
			continue
		}
		if st, err := readStat(pid); err == nil && st.ppid == root {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cpuUse is the CPU time each side of a run used during it; a negative
// value means it is not known (a process on another machine, or none).
type cpuUse struct {
	apistore, postgres, nginx time.Duration
}

func unknownCPU() cpuUse { return cpuUse{-1, -1, -1} }

func (c cpuUse) sub(before cpuUse) cpuUse {
	d := func(a, b time.Duration) time.Duration {
		if a < 0 || b < 0 {
			return -1
		}
		return a - b
	}
	return cpuUse{d(c.apistore, before.apistore), d(c.postgres, before.postgres), d(c.nginx, before.nginx)}
}

// perRequest formats a CPU time divided over n requests, in µs.
func perRequest(d time.Duration, n int) string {
	if d < 0 || n <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(n))
}
