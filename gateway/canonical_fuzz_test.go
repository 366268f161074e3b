package gateway

import (
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/apistore/apistore/portal"
)

// backendView is a reference canonicaliser: how the most lenient backend
// reads a path it is sent. It decodes until nothing changes (servers that
// decode twice), reads \ as / (Windows servers, some Java ones), drops each
// segment's ;parameters (Tomcat, Spring, Jetty), folds // and resolves . and
// .. (path.Clean, which also drops a trailing slash).
func backendView(escaped string) string {
	p := escaped
	for range 4 {
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			break
		}
		p = d
	}
	p = strings.ReplaceAll(p, `\`, "/")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return path.Clean("/" + strings.Join(segs, "/"))
}

// FuzzCanonicalMatch fuzzes the gateway's matcher against backendView: a
// call the gateway accepts reaches the backend with a path that the most
// lenient backend reads as exactly the path the gateway matched, so both
// pick the same resource and the scope checked is the one that applies;
// and a path already in that canonical form, in plain characters, is
// never refused.
func FuzzCanonicalMatch(f *testing.F) {
	for _, p := range []string{"/secret", "//secret", "/secret//", "/secret;jsessionid=1", "/x/..%2fsecret", "/%2e%2e/secret",
		"/files/%252e%252e/secret", `/files/..\secret`, "/files/a%5c..%5c..%5csecret", "/SECRET", "/secret/", "/%73ecret",
		"/secret/7", "/a/x/b", "/files/a/b%20c", "", "/", "/files/a:b@c", "/secret%3B", "/.", "/files/a%00"} {
		f.Add(p)
	}
	api := &portal.API{Context: "/api", Version: "v1", ProductionURL: "http://backend.internal/base", Resources: []portal.Resource{
		{Method: "GET", Path: "/*"}, {Method: "GET", Path: "/secret", Scope: "s"}, {Method: "GET", Path: "/secret/{id}", Scope: "s"},
		{Method: "GET", Path: "/files/*", Scope: "f"}, {Method: "GET", Path: "/a/{x}/b", Scope: "ab"}}}
	rt, err := newRoute(api)
	if err != nil {
		f.Fatal(err)
	}
	var rs routes
	rs.add(rt)
	endpoint := rt.endpoints["PRODUCTION"]
	f.Fuzz(func(t *testing.T, p string) {
		u, err := url.ParseRequestURI("/api/v1" + p) // as net/http reads a request target
		if err != nil || len(u.Path) > maxPathBytes {
			return
		}
		escaped := u.EscapedPath()
		if problem := pathProblem(u); problem != "" {
			if plain(escaped) && backendView(escaped) == escaped {
				t.Fatalf("canonical path %q refused: %s", escaped, problem)
			}
			return
		}
		found, rest := rs.find(u.Path)
		if found == nil {
			return
		}
		res, _ := found.resource("GET", rest)
		out := backendURL(endpoint, u, rest, strings.Count(found.prefix, "/"))
		if out.Path != "/base"+rest {
			t.Fatalf("%q: forwarded %q, matched %q", escaped, out.Path, rest)
		}
		seen := backendView(out.EscapedPath())
		if seen != path.Clean(out.Path) {
			t.Fatalf("%q: the gateway matched %q, a backend reads %q (sent %q)", escaped, rest, seen, out.EscapedPath())
		}
		again, _ := found.resource("GET", strings.TrimPrefix(seen, "/base"))
		if again != res {
			t.Fatalf("%q: the gateway chose %v, the backend's reading %q would choose %v", escaped, res, seen, again)
		}
	})
}

// plain reports a path of unreserved characters, sub-delimiters, : and @
// (RFC 3986 §3.3's pchar without percent-encoding or ;) and slashes.
func plain(p string) bool {
	for _, c := range []byte(p) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,=:@/", c) >= 0:
		default:
			return false
		}
	}
	return true
}
