package gateway

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// plainAnswers are answers of backends, and whether readPlainResponse
// reads them itself (else http.ReadResponse does).
var plainAnswers = []struct {
	raw   string
	plain bool
}{
	{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"menu\":[1]}", true},
	{"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nx-custom-thing:  a b \t\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nokHTTP/1.1 200 OK\r\n", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n", true},
	{"HTTP/1.1 299\r\nContent-Length: 1\r\n\r\nx", true},
	{"HTTP/1.1 404 Not Found\r\nX-Note: caf\xc3\xa9\r\nContent-Length: 3\r\nEmpty:\r\nWWW-Authenticate: Bearer\r\n\r\nabc", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true}, // cut short
	{"HTTP/1.1 999 Odd \r\nContent-Length:1\r\n\r\nx", true},
	{"HTTP/1.1 302 Found\r\nLocation: http://backend/x\r\nContent-Length: 00\r\n\r\n", true},

	{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive, Close\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTrailer: X-Sum\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nPragma: no-cache\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nx", false},
	{"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false},
	{"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false},
	{"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
	{"HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\n X-Lead: a\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nX-Space : a\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nX(Bad): a\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nX-Ctl: a\x01b\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nX-Cr: a\rb\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\n: empty name\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", false}, // the header not whole
	{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nx", false},
	{"HTTP/1.1  200 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 20 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200\tOK\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 2x0 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\n\r\n", false},
}

// TestPlainResponse holds readPlainResponse to http.ReadResponse: the
// answers it reads are read the same by both, header, body and what
// follows, and it reads nothing of the others.
func TestPlainResponse(t *testing.T) {
	for _, a := range plainAnswers {
		if got := samePlainResponse(t, a.raw, http.MethodGet); got != a.plain {
			t.Errorf("%q: read as a plain answer %v, want %v", a.raw, got, a.plain)
		}
	}
	if samePlainResponse(t, plainAnswers[0].raw, http.MethodHead) {
		t.Error("the answer to a HEAD read as a plain answer")
	}
}

// FuzzPlainResponse is TestPlainResponse's comparison on any answer.
func FuzzPlainResponse(f *testing.F) {
	for _, a := range plainAnswers {
		f.Add(a.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) { samePlainResponse(t, raw, http.MethodGet) })
}

// samePlainResponse reads raw with readPlainResponse, as the answer to a
// call of method, and reports whether it did; if it did, it fails t
// unless http.ReadResponse reads the same, else unless nothing was read.
func samePlainResponse(t *testing.T, raw, method string) bool {
	t.Helper()
	req, err := http.NewRequest(method, "http://backend/", nil)
	if err != nil {
		t.Fatal(err)
	}
	// As backendConn: the connection's first bytes, buffered.
	br := bufio.NewReaderSize(strings.NewReader(raw), 4<<10)
	if _, err := br.Peek(1); err != nil {
		return false
	}
	buffered := br.Buffered()
	got := readPlainResponse(br, req)
	if got == nil {
		if br.Buffered() != buffered {
			t.Errorf("%q: not read as plain, but %d bytes taken", raw, buffered-br.Buffered())
		}
		return false
	}
	ref := bufio.NewReaderSize(strings.NewReader(raw), 4<<10)
	want, err := http.ReadResponse(ref, req)
	if err != nil {
		t.Errorf("%q: read as plain, http.ReadResponse: %v", raw, err)
		return true
	}
	type fields struct {
		Status                 string
		StatusCode             int
		Proto                  string
		ProtoMajor, ProtoMinor int
		Header, Trailer        http.Header
		ContentLength          int64
		TransferEncoding       []string
		Close, Uncompressed    bool
		Request                *http.Request
		NoBody                 bool
	}
	of := func(r *http.Response) fields {
		return fields{r.Status, r.StatusCode, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Header, r.Trailer, r.ContentLength,
			r.TransferEncoding, r.Close, r.Uncompressed, r.Request, r.Body == http.NoBody}
	}
	if g, w := of(got), of(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%q: read as\n%+v\nhttp.ReadResponse reads\n%+v", raw, g, w)
	}
	if g, w := reads(got.Body), reads(want.Body); !reflect.DeepEqual(g, w) {
		t.Errorf("%q: body read as %q, http.ReadResponse's as %q", raw, g, w)
	}
	restGot, _ := io.ReadAll(br)
	restWant, _ := io.ReadAll(ref)
	if string(restGot) != string(restWant) {
		t.Errorf("%q: %q left after the body, http.ReadResponse leaves %q", raw, restGot, restWant)
	}
	return true
}

// reads reads body to its end in reads of 5 bytes, and one more, and
// returns what each returned.
func reads(body io.Reader) []string {
	var out []string
	buf := make([]byte, 5)
	for {
		n, err := body.Read(buf)
		out = append(out, string(buf[:n])+" "+errorText(err))
		if err != nil {
			break
		}
	}
	n, err := body.Read(buf)
	return append(out, string(buf[:n])+" "+errorText(err))
}

func errorText(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return err.Error()
	}
	return "error"
}
