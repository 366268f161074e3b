package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzMethodOverride: a call whose query has a _method parameter (as
// net/url reads it) naming another method than the call's own is seen as
// naming that method, or as naming several; never as plain.
func FuzzMethodOverride(f *testing.F) {
	for _, q := range []string{"_method=DELETE", "a=1&_method=get", "%5Fmethod=PUT", "_method=%zz&_method=DELETE", "x=%5Fmethod", "_method"} {
		f.Add("GET", q, "")
	}
	f.Add("POST", "", "delete")
	f.Fuzz(func(t *testing.T, method, query, header string) {
		r := &http.Request{Method: method, URL: &url.URL{RawQuery: query}, Header: http.Header{}}
		if header != "" {
			r.Header.Set("X-HTTP-Method-Override", header)
		}
		override, problem := methodOverride(r)
		if override != "" && problem != "" {
			t.Fatalf("both %q and %q", override, problem)
		}
		values, _ := url.ParseQuery(query)
		if header != "" {
			values["_method"] = append(values["_method"], header)
		}
		for _, v := range values["_method"] {
			if m := strings.ToUpper(strings.TrimSpace(v)); m != "" && m != method && override == "" && problem == "" {
				t.Fatalf("%s ?%s (header %q) names %q, not seen", method, query, header, m)
			}
		}
	})
}

// FuzzSetsOwnCookie: every Set-Cookie that net/http reads as one of
// apistore's cookies is recognised and dropped.
func FuzzSetsOwnCookie(f *testing.F) {
	for _, c := range []string{"apistore_session=x; Path=/", "__Host-apistore_session=x", "=apistore_session=x", " Apistore_x=1", "theme=dark"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			return
		}
		name := strings.ToLower(c.Name)
		name = strings.TrimPrefix(strings.TrimPrefix(name, "__host-"), "__secure-")
		if strings.HasPrefix(name, ownCookiePrefix) && !setsOwnCookie(line) {
			t.Fatalf("Set-Cookie %q sets %q, not recognised", line, c.Name)
		}
	})
}
