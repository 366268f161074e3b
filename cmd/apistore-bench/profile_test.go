package main

import (
	"os"
	"testing"
)

// TestClassify reads stacks that perf recorded of the server under the
// gateway's load (testdata/perf-script.txt, "perf script -F ip,sym,dso")
// and names each one's layer.
func TestClassify(t *testing.T) {
	raw, err := os.ReadFile("testdata/perf-script.txt")
	if err != nil {
		t.Fatal(err)
	}
	stacks := parsePerfScript(raw)
	want := []struct {
		layer  string
		kernel bool
	}{
		{layerProxy, true},      // the transport writing a request to the backend
		{layerHTTP, true},       // a TLS connection's socket read: the server's own I/O
		{layerGC, false},        // a background mark worker
		{layerTLS, false},       // AES-GCM under crypto/tls
		{layerToken, false},     // hashing the bearer token
		{layerUsage, true},      // the usage recorder's goroutine
		{layerTokenLoad, false}, // a /token request alongside, down in SQLite
	}
	if len(stacks) != len(want) {
		t.Fatalf("%d stacks, want %d", len(stacks), len(want))
	}
	for i, w := range want {
		if got := classify(stacks[i]); got != w.layer {
			t.Errorf("stack %d (leaf %s): layer %q, want %q", i+1, stacks[i][0].sym, got, w.layer)
		}
		if stacks[i][0].kernel != w.kernel {
			t.Errorf("stack %d (leaf %s): in the kernel %v, want %v", i+1, stacks[i][0].sym, stacks[i][0].kernel, w.kernel)
		}
	}
	if s := stacks[4]; s[len(s)-1].sym != "runtime.goexit" {
		t.Errorf("the root of stack 5 is %q, want runtime.goexit (without .abi0)", s[len(s)-1].sym)
	}
}

func TestParseStat(t *testing.T) {
	// A command name may hold spaces and parentheses.
	st, err := parseStat("4242 (nginx: worker (x)) S 4240 4240 4240 0 -1 4194624 1 0 0 0 250 130 7 3 20 0 1 0 1 1 1\n")
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 4240 || st.own.Milliseconds() != 3800 || st.waited.Milliseconds() != 100 {
		t.Errorf("got ppid %d, own %v, waited %v; want 4240, 3.8s, 100ms", st.ppid, st.own, st.waited)
	}
	if _, err := parseStat("4242 (x) S 1"); err == nil {
		t.Error("a short line was accepted")
	}
}
