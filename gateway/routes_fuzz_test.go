package gateway

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzTemplateMatch: matching a request path against a resource's URL
// template never panics; a template without parameters or wildcard matches
// exactly its own path (one trailing slash aside), and without a final /* a
// match covers as many non-empty segments as the template has.
func FuzzTemplateMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"/order/{orderId}", "/order/123"}, {"/menu", "/menu"}, {"/*", "/a/b/c"}, {"/a/{b}/*", "/a//"},
		{"/", ""}, {"/x", "/x/"}, {"/o/{id}/x", "/o//x"}, {"/{p}", "/%2e%2e"}, {"/a", "/a\x00"}, {"/ü", "/\xff"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, tpl, path string) {
		compiled, err := compileTemplate(tpl)
		if err != nil {
			return
		}
		score, ok := compiled.match(path)
		if !ok {
			if score != 0 {
				t.Fatalf("no match with score %d", score)
			}
			return
		}
		if compiled.wildcard {
			return
		}
		trimmed := strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/")
		if !strings.Contains(tpl, "{") && trimmed != strings.Trim(tpl, "/") {
			t.Fatalf("template %q matched path %q", tpl, path)
		}
		var parts []string
		if trimmed != "" {
			parts = strings.Split(trimmed, "/")
		}
		if len(parts) != len(compiled.segs) || slices.Contains(parts, "") {
			t.Fatalf("template %q (%d parts) matched %q", tpl, len(compiled.segs), path)
		}
	})
}

// FuzzRoutesFind: an API is found only for a request path that starts with
// its whole context/version segments, and the rest handed to the resource
// match is exactly what follows them.
func FuzzRoutesFind(f *testing.F) {
	for _, p := range []string{"/pizzashack/1.0.0/menu", "/pizzashack/1.0.0", "/pizzashack/1.0.0x/menu", "/pizzashack",
		"//pizzashack/1.0.0", "/a/b/1/x/../y", "/pizzashack/1.0.0/../../token", "/\xff/1"} {
		f.Add(p)
	}
	var rs routes
	for _, prefix := range []string{"/pizzashack/1.0.0", "/a/b/1", "/a/1"} {
		rs.add(&route{prefix: prefix})
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt, rest := rs.find(path)
		if rt == nil {
			if rest != "" {
				t.Fatalf("no route but rest %q", rest)
			}
			return
		}
		if path != rt.prefix+rest || (rest != "" && rest[0] != '/') {
			t.Fatalf("path %q split into %q and %q", path, rt.prefix, rest)
		}
	})
}

// TestRoutesFindLongPath: a path of many segments is not looked up
// segment by segment past the longest API prefix. Each lookup hashes
// the whole prefix tried, so an unauthenticated 1 MB path of "/a" used to
// cost seconds of CPU once more than eight APIs were published.
func TestRoutesFindLongPath(t *testing.T) {
	var rs routes
	for i := range 20 {
		rs.add(&route{prefix: "/api" + strings.Repeat("x", i) + "/v1"})
	}
	path := "/apixxx/v1/menu" + strings.Repeat("/a", 500_000)
	start := time.Now()
	for range 10 {
		if rt, rest := rs.find(path); rt == nil || rt.prefix != "/apixxx/v1" || !strings.HasPrefix(rest, "/menu/a/") {
			t.Fatalf("found %v", rt)
		}
		if rt, _ := rs.find("/nothing" + strings.Repeat("/a", 500_000)); rt != nil {
			t.Fatalf("found %s", rt.prefix)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("20 lookups of 1 MB paths took %v", d)
	}
}
