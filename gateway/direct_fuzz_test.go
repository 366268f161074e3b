package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"testing"
)

// FuzzPlainQuery: a query directProxy passes on as it is (plainQuery) is
// one ReverseProxy passes on as it is too; the others go through
// ReverseProxy, which drops what it cannot parse.
func FuzzPlainQuery(f *testing.F) {
	for _, q := range []string{"", "a=1&b=2", "a;b=1", "c=%zz", "d=%2", "e=%41%", "f=+%20", "g=%e2%82%ac", "&&=", "%"} {
		f.Add(q)
	}
	var passed string
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { passed = pr.Out.URL.RawQuery },
		Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return nil, errors.New("not sent")
		}),
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) {},
	}
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest("GET", "http://gateway/x", nil)
		r.URL.RawQuery = query
		passed = ""
		proxy.ServeHTTP(httptest.NewRecorder(), r)
		if plainQuery(query) && passed != query {
			t.Fatalf("plainQuery(%q), but ReverseProxy passes %q", query, passed)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
