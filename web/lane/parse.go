package lane

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// parse reads a plain call from its header (request line to blank line),
// into the request net/http would make of it. It returns nil for
// anything else, which the lane hands to net/http: another method or
// version, a body, an upgrade, Expect, a Connection other than
// keep-alive, a missing, repeated or malformed Host, a malformed field or
// target, obsolete line folding, and a path the lane does not take.
func (c *conn) parse(head []byte) *http.Request {
	// One string for the whole header: the target, Host and every value
	// are cut out of it, not copied one by one.
	text := string(head)
	line, rest, _ := strings.Cut(text, "\r\n")
	const prefix, suffix = "GET ", " HTTP/1.1"
	if len(line) <= len(prefix)+len(suffix) || line[:len(prefix)] != prefix || line[len(line)-len(suffix):] != suffix {
		return nil
	}
	target := line[len(prefix) : len(line)-len(suffix)]
	if target[0] != '/' || strings.IndexByte(target, ' ') >= 0 {
		return nil
	}
	// Values one to a field, as textproto gives them (a second value of a
	// name is appended).
	values := make([]string, strings.Count(rest, "\r\n"))
	header := make(http.Header, 8)
	host, hosts := "", 0
	for {
		field, next, _ := strings.Cut(rest, "\r\n")
		rest = next
		if len(field) == 0 {
			break
		}
		colon := strings.IndexByte(field, ':')
		if colon <= 0 || !validName(field[:colon]) {
			return nil // also obsolete folding: a line starting with a space
		}
		// Checked before trimming, which would hide a stray CR at an end.
		if !validValue(field[colon+1:]) {
			return nil
		}
		value := textproto.TrimString(field[colon+1:])
		key := canonicalKey(field[:colon])
		switch key {
		case "Host":
			host, hosts = value, hosts+1
			continue
		case "Content-Length", "Transfer-Encoding", "Upgrade", "Expect", "Trailer", "Http2-Settings":
			return nil
		case "Connection":
			if !strings.EqualFold(value, "keep-alive") {
				return nil
			}
		}
		if vv := header[key]; vv != nil {
			header[key] = append(vv, value)
		} else {
			header[key], values = values[:1:1], values[1:]
			header[key][0] = value
		}
	}
	if hosts != 1 || !httpguts.ValidHostHeader(host) {
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil || !c.srv.Takes(u.Path) {
		return nil
	}
	// As net/http: Pragma: no-cache stands for Cache-Control: no-cache.
	if p, ok := header["Pragma"]; ok && len(p) > 0 && p[0] == "no-cache" {
		if _, ok := header["Cache-Control"]; !ok {
			header["Cache-Control"] = []string{"no-cache"}
		}
	}
	return &http.Request{Method: http.MethodGet, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: header, Body: http.NoBody, Host: host, RemoteAddr: c.remoteAddr, RequestURI: target, TLS: c.tlsState}
}

// validName reports whether a field name is a token (RFC 9110).
func validName(b string) bool {
	for _, ch := range []byte(b) {
		if !httpguts.IsTokenRune(rune(ch)) {
			return false
		}
	}
	return true
}

// validValue reports whether a field value has no control characters but
// tabs, as net/http requires.
func validValue(b string) bool {
	for _, ch := range []byte(b) {
		if ch < ' ' && ch != '\t' || ch == 0x7f {
			return false
		}
	}
	return true
}

// common are the field names most calls carry, canonical, so that
// naming them allocates nothing.
var common = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Length", "Content-Type", "Cookie", "Dpop", "Expect", "Host", "If-Match",
		"If-Modified-Since", "If-None-Match", "Origin", "Pragma", "Range", "Referer", "Sec-Fetch-Dest",
		"Sec-Fetch-Mode", "Sec-Fetch-Site", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "User-Agent",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Request-Id", "Http2-Settings"} {
		m[k] = k
	}
	return m
}()

// canonicalKey is textproto's canonical form of a valid field name.
func canonicalKey(name string) string {
	if k, ok := common[name]; ok {
		return k
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}
