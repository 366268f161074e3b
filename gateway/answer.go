package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// readPlainResponse reads the header of the common answer itself, already
// whole in br's buffer: HTTP/1.1, a final status that has a body, a
// Content-Length, each field on one line ended by CRLF, its name valid,
// its value of valid bytes, and no Transfer-Encoding, Trailer, Pragma or
// Connection: close, which http.ReadResponse reads with rules of their
// own. It returns what http.ReadResponse would, or nil, having read
// nothing, for any other answer, which http.ReadResponse then reads.
// http.ReadResponse cuts every value out on its own, counts the fields
// first, and builds its answer and body in five more allocations; the
// answers both read are held to the same results (TestPlainResponse).
func readPlainResponse(br *bufio.Reader, req *http.Request) *http.Response {
	if req.Method == http.MethodHead {
		return nil
	}
	buffered, _ := br.Peek(br.Buffered()) // no I/O: what is buffered
	end := bytes.Index(buffered, []byte("\r\n\r\n"))
	if end < 0 {
		return nil
	}
	head := string(buffered[:end+2]) // every line with its CRLF
	line, rest, _ := strings.Cut(head, "\n")
	line, crlf := strings.CutSuffix(line, "\r")
	status, ok := strings.CutPrefix(line, "HTTP/1.1 ")
	if !crlf || !ok || len(status) < 3 || len(status) > 3 && status[3] != ' ' {
		return nil
	}
	code := 0
	for _, c := range []byte(status[:3]) {
		if c < '0' || c > '9' {
			return nil
		}
		code = 10*code + int(c-'0')
	}
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil
	}
	fields := strings.Count(rest, "\n")
	values := make([]string, fields)
	h := make(http.Header, fields)
	for range fields {
		line, rest, _ = strings.Cut(rest, "\n")
		if len(line) < 2 || line[len(line)-1] != '\r' || line[0] == ' ' || line[0] == '\t' {
			return nil
		}
		name, value, ok := strings.Cut(line[:len(line)-1], ":")
		if !ok || !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
			return nil
		}
		name = textproto.CanonicalMIMEHeaderKey(name)
		switch name {
		case "Transfer-Encoding", "Trailer", "Pragma":
			return nil
		case "Content-Length":
			if h[name] != nil {
				return nil // one value or several: http.ReadResponse checks
			}
		}
		value = strings.Trim(value, " \t")
		if vv := h[name]; vv != nil {
			h[name] = append(vv, value)
		} else {
			h[name], values = values[:1:1], values[1:]
			h[name][0] = value
		}
	}
	cl := h["Content-Length"]
	if cl == nil || httpguts.HeaderValuesContainsToken(h["Connection"], "close") {
		return nil
	}
	length, err := strconv.ParseUint(cl[0], 10, 63)
	if err != nil {
		return nil
	}
	_, _ = br.Discard(end + 4)
	res := &http.Response{Status: status, StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		ContentLength: int64(length), Body: http.NoBody, Request: req}
	if length > 0 {
		res.Body = &lengthBody{r: br, left: int64(length)}
	}
	return res
}

// lengthBody is a body of a known length, read as http.ReadResponse's
// are: its last bytes come with io.EOF, and a body cut short ends in
// io.ErrUnexpectedEOF.
type lengthBody struct {
	r    *bufio.Reader
	left int64
	eof  bool
}

// Read reads the body.
func (b *lengthBody) Read(p []byte) (int, error) {
	if b.eof || b.left <= 0 {
		b.eof = true
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	switch {
	case err == io.EOF:
		b.eof = true
		if b.left > 0 {
			err = io.ErrUnexpectedEOF
		}
	case err == nil && n > 0 && b.left == 0:
		b.eof = true
		err = io.EOF
	}
	return n, err
}

// Close does nothing: backendBody ends the call.
func (b *lengthBody) Close() error { return nil }
