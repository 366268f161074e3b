package lane

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"testing"
)

// FuzzParse: whatever request head the lane takes for itself, net/http's
// reader takes too and reads the same way (method, target, version, host
// and every field); the lane hands everything else over.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"GET /pizzashack/1.0.0/menu?x=1&y=%20 HTTP/1.1\r\nHost: localhost:8280\r\nAuthorization: Bearer abc\r\nAccept: */*\r\n\r\n",
		"GET /a%2Fb HTTP/1.1\r\nhost: h\r\nx-multi: 1\r\nX-Multi: 2\r\nPragma: no-cache\r\nConnection: keep-alive\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: \t v \t\r\nY:\r\n\r\n",
		"GET / HTTP/1.1\nHost: h\n\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
	} {
		f.Add([]byte(seed))
	}
	c := &conn{srv: &Server{Takes: func(string) bool { return true }}, remoteAddr: "192.0.2.1:1234"}
	f.Fuzz(func(t *testing.T, data []byte) {
		end := headerEnd(data)
		if end <= 0 {
			return
		}
		got := c.parse(data[:end])
		if got == nil {
			return
		}
		want, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data[:end])))
		if err != nil {
			t.Fatalf("the lane took %q, net/http refuses it: %v", data[:end], err)
		}
		delete(want.Header, "Host")
		if got.Method != want.Method || got.RequestURI != want.RequestURI || got.URL.String() != want.URL.String() ||
			got.Proto != want.Proto || got.Host != want.Host || !reflect.DeepEqual(got.Header, want.Header) {
			t.Fatalf("%q read otherwise:\nlane     %s %s %s host %q %v\nnet/http %s %s %s host %q %v", data[:end],
				got.Method, got.URL, got.Proto, got.Host, got.Header, want.Method, want.URL, want.Proto, want.Host, want.Header)
		}
	})
}
