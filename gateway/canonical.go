package gateway

import (
	"net/url"
	"strings"
)

// maxPathBytes bounds the path of an API call, as most servers bound a
// request line (nginx's 8 KiB buffer): longer is refused with 414 before
// any matching.
const maxPathBytes = 8 << 10

// pathProblem says why a call's path is not in the one form the gateway
// matches resources on and forwards, or "" when it is. A backend may
// normalise what the gateway would match as written (fold "//" into "/",
// drop ";jsessionid=…", decode "%2F" or "%2e", treat "\" as "/",
// decode twice) and so serve a resource other than the one whose scope
// was checked: such paths are refused rather than guessed at. u is the
// request's URL: Path is decoded, EscapedPath as the caller wrote it.
func pathProblem(u *url.URL) string {
	p := u.Path
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '/' && i+1 < len(p) && p[i+1] == '/':
			return "it has an empty segment (//)"
		case c == ';':
			return "it has a ; (path parameters such as ;jsessionid= are not passed on)"
		case c == '\\':
			return `it has a backslash (\), which some servers read as /`
		case c == '%':
			return "it has an encoded % (%25): the path would be decoded twice"
		case c < 0x20 || c == 0x7f:
			return "it has a control character"
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return "it has a . or .. segment"
		}
	}
	escaped := u.EscapedPath()
	for i := 0; i+2 < len(escaped); i++ {
		if escaped[i] != '%' {
			continue
		}
		switch strings.ToUpper(escaped[i+1 : i+3]) {
		case "2F":
			return "it has an encoded slash (%2F)"
		case "5C":
			return "it has an encoded backslash (%5C)"
		case "2E":
			return "it has an encoded dot (%2E)"
		}
	}
	return ""
}

// afterSegments returns what follows the first n segments of a path: with
// n the number of segments of an API's context and version, the rest of
// the call as written, which the gateway forwards. Only for a path that
// pathProblem accepts, whose escaped segments are its decoded ones.
func afterSegments(path string, n int) string {
	i := 0
	for range n {
		j := strings.IndexByte(path[i+1:], '/')
		if j < 0 {
			return ""
		}
		i += 1 + j
	}
	return path[i:]
}
