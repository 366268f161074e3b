package lane

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// response is the lane's http.ResponseWriter. It writes what net/http's
// server writes for the same calls (net/http's response and chunkWriter,
// for an HTTP/1.1 GET without a body): the same 2 KiB buffer before a
// body of unknown length turns chunked, the same Content-Length for a
// body written whole, Content-Type sniffing, Date, 1xx answers, trailers,
// and the same refusals of writes. TestLaneWritesAsNetHTTP holds the two
// to the same bytes.
type response struct {
	c   *conn
	req *http.Request

	handlerHeader http.Header
	// header is the header as of WriteHeader, when the handler may still
	// change handlerHeader before the first byte goes out.
	header       http.Header
	calledHeader bool
	wroteHeader  bool
	status       int

	contentLength   int64 // -1: unknown
	written         int64
	handlerDone     bool
	closeAfterReply bool
	trailers        []string // declared in the Trailer field

	w  *bufio.Writer // the 2 KiB before the body is committed, over cw
	cw chunkWriter

	// The map and values header is copied into, reused from call to call:
	// the copy never leaves the lane.
	spare       http.Header
	spareValues []string
}

// bufferBeforeChunking is net/http's: a body of up to this many bytes,
// written whole, gets a Content-Length.
const bufferBeforeChunking = 2048

// reset makes w the answer to req.
func (w *response) reset(c *conn, req *http.Request) {
	bw := w.w
	if bw == nil {
		bw = bufio.NewWriterSize(&w.cw, bufferBeforeChunking)
	}
	*w = response{c: c, req: req, handlerHeader: make(http.Header), contentLength: -1, w: bw,
		spare: w.spare, spareValues: w.spareValues}
	w.cw.res = w
}

// Header returns the header map the handler sets.
func (w *response) Header() http.Header {
	if w.header == nil && w.wroteHeader && !w.cw.wroteHeader {
		w.header = w.cloneHeader()
	}
	w.calledHeader = true
	return w.handlerHeader
}

// cloneHeader is handlerHeader.Clone(), into the spare map and values.
func (w *response) cloneHeader() http.Header {
	n := 0
	for _, vv := range w.handlerHeader {
		n += len(vv)
	}
	if cap(w.spareValues) < n {
		w.spareValues = make([]string, n)
	}
	if w.spare == nil {
		w.spare = make(http.Header, len(w.handlerHeader))
	}
	clear(w.spare)
	values := w.spareValues[:n]
	for k, vv := range w.handlerHeader {
		if vv == nil {
			w.spare[k] = nil
			continue
		}
		m := copy(values, vv)
		w.spare[k], values = values[:m:m], values[m:]
	}
	return w.spare
}

// WriteHeader sends a 1xx answer at once, or sets the final status.
func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		w.c.srv.logf("http: superfluous response.WriteHeader call")
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		bw := w.c.bw
		writeStatusLine(bw, code)
		w.handlerHeader.WriteSubset(bw, excludedNoBody)
		bw.WriteString("\r\n")
		bw.Flush()
		return
	}
	w.wroteHeader = true
	w.status = code
	if w.calledHeader && w.header == nil {
		w.header = w.cloneHeader()
	}
	if cl := w.handlerHeader.Get("Content-Length"); cl != "" {
		v, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.c.srv.logf("http: invalid Content-Length of %q", cl)
			w.handlerHeader.Del("Content-Length")
		}
	}
}

// Write writes body bytes, committing the header first if it must.
func (w *response) Write(p []byte) (int, error) { return w.write(len(p), p, "") }

// WriteString is Write of a string. As net/http's, it goes through the
// buffer's WriteString, which cuts a long string into chunks of the
// buffer's size where Write would send it as one.
func (w *response) WriteString(s string) (int, error) { return w.write(len(s), nil, s) }

// write writes dataB or dataS, as net/http's response.write does.
func (w *response) write(size int, dataB []byte, dataS string) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if size == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(size)
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if dataB != nil {
		return w.w.Write(dataB)
	}
	return w.w.WriteString(dataS)
}

// sniffLen is how much of a body net/http reads to sniff its type.
const sniffLen = 512

// ReadFrom copies src into the body as net/http's response.ReadFrom does
// (io.Copy calls it when src has no WriteTo): the first 512 bytes are
// written as by Write, then the header goes out, so that a longer body
// is chunked unless its length was set, and an unchunked one is copied
// straight to the connection.
func (w *response) ReadFrom(src io.Reader) (n int64, err error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	rf, ok := w.c.rw.(io.ReaderFrom)
	if !ok {
		return io.CopyBuffer(writerOnly{w}, src, buf)
	}
	if !w.cw.wroteHeader {
		n0, err := io.CopyBuffer(writerOnly{w}, io.LimitReader(src, sniffLen), buf)
		n += n0
		if err != nil || n0 < sniffLen {
			return n, err
		}
	}
	w.w.Flush()
	w.cw.flush()
	if !w.cw.chunking && bodyAllowed(w.status) {
		n0, err := rf.ReadFrom(src)
		n += n0
		w.written += n0
		return n, err
	}
	n0, err := io.CopyBuffer(writerOnly{w}, src, buf)
	return n + n0, err
}

// copyBuffers are ReadFrom's, as net/http pools its own.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// Flush sends what is buffered, the header first.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush, with its error (http.ResponseController uses it).
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	err := w.w.Flush()
	if e := w.cw.flush(); err == nil {
		err = e
	}
	return err
}

// SetWriteDeadline is http.ResponseController's, as on net/http's
// writer: the connection's write deadline.
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rw.SetWriteDeadline(t) }

// EnableFullDuplex is http.ResponseController's; net/http's only lets a
// handler read a body while it writes, and a call on the lane has none.
func (w *response) EnableFullDuplex() error { return nil }

// finish completes the answer once the handler has returned.
func (w *response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.w.Flush()
	w.cw.close()
	w.c.bw.Flush()
}

// reusable reports whether the connection may serve another call.
func (w *response) reusable() bool {
	if w.closeAfterReply || w.cw.failed || w.c.bw.Buffered() > 0 {
		return false
	}
	return w.contentLength == -1 || !bodyAllowed(w.status) || w.contentLength == w.written
}

// chunkWriter writes the body to the connection, chunked if it must be,
// after the header, which it writes on the first bytes.
type chunkWriter struct {
	res         *response
	wroteHeader bool
	chunking    bool
	failed      bool
}

func (cw *chunkWriter) Write(p []byte) (n int, err error) {
	if !cw.wroteHeader {
		cw.writeHeader(p)
	}
	bw := cw.res.c.bw
	if cw.chunking {
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	n, err = bw.Write(p)
	if cw.chunking && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	if err != nil {
		cw.failed = true
		cw.res.c.rw.Close()
	}
	return n, err
}

func (cw *chunkWriter) flush() error {
	if !cw.wroteHeader {
		cw.writeHeader(nil)
	}
	return cw.res.c.bw.Flush()
}

func (cw *chunkWriter) close() {
	if !cw.wroteHeader {
		cw.writeHeader(nil)
	}
	if cw.chunking {
		bw := cw.res.c.bw
		bw.WriteString("0\r\n")
		if trailers := cw.res.finalTrailers(); trailers != nil {
			trailers.Write(bw)
		}
		bw.WriteString("\r\n")
	}
}

// writeHeader decides the framing and writes the status line and header,
// as net/http's chunkWriter.writeHeader does for an HTTP/1.1 GET. p is
// the body's first bytes, sniffed for a Content-Type when none is set.
func (cw *chunkWriter) writeHeader(p []byte) {
	cw.wroteHeader = true
	w := cw.res
	header := cw.res.header
	owned := header != nil
	if !owned {
		header = w.handlerHeader
	}
	var exclude map[string]bool
	del := func(key string) {
		if owned {
			header.Del(key)
			return
		}
		if _, ok := header[key]; !ok {
			return
		}
		if exclude == nil {
			exclude = map[string]bool{}
		}
		exclude[key] = true
	}
	var extra extraHeader

	trailers := false
	for k := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			if exclude == nil {
				exclude = map[string]bool{}
			}
			exclude[k] = true
			trailers = true
		}
	}
	for _, v := range w.header["Trailer"] {
		trailers = true
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				w.declareTrailer(name)
			}
		}
	}

	te := header.Get("Transfer-Encoding")
	hasTE := te != ""
	if w.handlerDone && !trailers && !hasTE && bodyAllowed(w.status) && !has(header, "Content-Length") {
		w.contentLength = int64(len(p))
		extra.contentLength = strconv.Itoa(len(p))
	}
	hasCL := w.contentLength != -1
	// As net/http, whose keep-alives end with Shutdown: an answer begun
	// after it says the connection closes.
	keepAlives := !w.c.srv.closing.Load()
	if header.Get("Connection") == "close" || !keepAlives {
		w.closeAfterReply = true
	}

	code := w.status
	if bodyAllowed(code) {
		_, haveType := header["Content-Type"]
		if header.Get("Content-Encoding") == "" && !haveType && !hasTE && len(p) > 0 {
			extra.contentType = http.DetectContentType(p)
		}
	} else {
		suppressed := suppressedNoBody
		if code == http.StatusNotModified {
			suppressed = suppressed304
		}
		for _, k := range suppressed {
			del(k)
		}
	}
	if !has(header, "Date") {
		extra.date = time.Now().UTC().Format(http.TimeFormat)
	}
	if hasCL && hasTE && te != "identity" {
		w.c.srv.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.contentLength)
		del("Content-Length")
		hasCL = false
	}
	switch {
	case !bodyAllowed(code) || code == http.StatusNoContent || hasCL:
		del("Transfer-Encoding")
	case hasTE && te == "identity":
		w.closeAfterReply = true
		del("Transfer-Encoding")
	default:
		cw.chunking = true
		extra.transferEncoding = "chunked"
		if hasTE && te == "chunked" {
			del("Transfer-Encoding")
		}
	}
	if cw.chunking {
		del("Content-Length")
	}
	switchesProtocol := code == http.StatusSwitchingProtocols && header.Get("Upgrade") != "" &&
		httpguts.HeaderValuesContainsToken(header["Connection"], "Upgrade")
	if w.closeAfterReply && (!keepAlives || !httpguts.HeaderValuesContainsToken([]string{w.header.Get("Connection")}, "close")) && !switchesProtocol {
		del("Connection")
		extra.connection = "close"
	}

	bw := w.c.bw
	writeStatusLine(bw, code)
	w.header.WriteSubset(bw, exclude)
	extra.write(bw)
	bw.WriteString("\r\n")
}

// declareTrailer notes a trailer named in the Trailer field.
func (w *response) declareTrailer(k string) {
	k = http.CanonicalHeaderKey(k)
	if httpguts.ValidTrailerHeader(k) {
		w.trailers = append(w.trailers, k)
	}
}

// finalTrailers are the trailers to send after a chunked body.
func (w *response) finalTrailers() http.Header {
	var t http.Header
	for k, vv := range w.handlerHeader {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = http.Header{}
			}
			t[name] = vv
		}
	}
	for _, k := range w.trailers {
		if t == nil {
			t = http.Header{}
		}
		for _, v := range w.handlerHeader[k] {
			t.Add(k, v)
		}
	}
	return t
}

// extraHeader is what the server adds to the handler's header, in
// net/http's order.
type extraHeader struct {
	date, contentLength, contentType, connection, transferEncoding string
}

func (h *extraHeader) write(bw *bufio.Writer) {
	for _, f := range [...]struct{ name, value string }{
		{"Date", h.date}, {"Content-Length", h.contentLength}, {"Content-Type", h.contentType},
		{"Connection", h.connection}, {"Transfer-Encoding", h.transferEncoding},
	} {
		if f.value != "" {
			bw.WriteString(f.name)
			bw.WriteString(": ")
			bw.WriteString(f.value)
			bw.WriteString("\r\n")
		}
	}
}

var (
	suppressed304    = []string{"Content-Type", "Content-Length", "Transfer-Encoding"}
	suppressedNoBody = []string{"Content-Length", "Transfer-Encoding"}
	excludedNoBody   = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}
)

func writeStatusLine(bw *bufio.Writer, code int) {
	bw.WriteString("HTTP/1.1 ")
	if text := http.StatusText(code); text != "" {
		bw.WriteString(strconv.Itoa(code))
		bw.WriteByte(' ')
		bw.WriteString(text)
		bw.WriteString("\r\n")
	} else {
		fmt.Fprintf(bw, "%03d status code %d\r\n", code, code)
	}
}

func bodyAllowed(status int) bool {
	return (status < 100 || status > 199) && status != http.StatusNoContent && status != http.StatusNotModified
}

func has(h http.Header, key string) bool {
	_, ok := h[key]
	return ok
}
