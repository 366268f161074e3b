package web

import "testing"

// TestOffsetAddr: the port offset moves the metrics listener's port as it
// moves the others, but not "any free port" (0), and refuses a port it
// would take out of range.
func TestOffsetAddr(t *testing.T) {
	for _, tt := range []struct {
		addr   string
		offset int
		want   string
		fails  bool
	}{
		{"localhost:9464", 0, "localhost:9464", false},
		{"localhost:9464", 1000, "localhost:10464", false},
		{"127.0.0.1:0", 1000, "127.0.0.1:0", false},
		{"[::1]:9464", 1, "[::1]:9465", false},
		{"localhost:65535", 1, "", true},
		{"localhost", 1, "", true},
	} {
		got, err := offsetAddr(tt.addr, tt.offset)
		if (err != nil) != tt.fails || got != tt.want {
			t.Errorf("offsetAddr(%q, %d) = %q, %v; want %q (error: %v)", tt.addr, tt.offset, got, err, tt.want, tt.fails)
		}
	}
}
