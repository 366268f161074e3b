package gateway

import (
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/apistore/apistore/portal"
)

// The gateway answers the CORS protocol of the Fetch standard itself, per
// API (portal.CORS): a browser app of an allowed origin may call the API,
// a preflight is answered without a token, and every answer of an API,
// the gateway's refusals included, says which origin may read it, so an
// app can read a fault as well as a success. The backend's own CORS
// headers are dropped: the gateway's settings are the API's.
//
// Three hooks reach here: ServeHTTP once the API is resolved (cors), the
// proxy's answer (corsBackendAnswer) and Refusal.write (corsRefusal).

// corsPolicy is an API's CORS settings with the defaults filled in.
type corsPolicy struct {
	anyOrigin bool
	origins   []string // lower case; empty: the store's origin
	headers   []string // canonical
	methods   []string
}

// corsMaxAge is how long, in seconds, a browser may keep a preflight's answer.
const corsMaxAge = "600"

func newCORSPolicy(a *portal.API) *corsPolicy {
	p := &corsPolicy{headers: portal.DefaultCORSHeaders, methods: a.CORS.Methods}
	for _, o := range a.CORS.Origins {
		if o == "*" {
			p.anyOrigin = true
		}
		p.origins = append(p.origins, strings.ToLower(strings.TrimSuffix(o, "/")))
	}
	if len(a.CORS.Headers) > 0 {
		p.headers = nil
		for _, h := range a.CORS.Headers {
			p.headers = append(p.headers, textproto.CanonicalMIMEHeaderKey(h))
		}
	}
	if len(p.methods) == 0 {
		for _, r := range a.Resources {
			if !slices.Contains(p.methods, r.Method) {
				p.methods = append(p.methods, r.Method)
			}
		}
	}
	return p
}

// allows reports whether a browser page of origin may read the API's
// answers; storeOrigin stands in for an empty list.
func (p *corsPolicy) allows(origin, storeOrigin string) bool {
	if p.anyOrigin {
		return true
	}
	o := strings.ToLower(origin)
	if len(p.origins) == 0 {
		return storeOrigin != "" && o == strings.ToLower(storeOrigin)
	}
	return slices.Contains(p.origins, o)
}

// SetStoreOrigin tells the gateway the store's origin (scheme://host[:port]),
// which APIs allow by default, once it is known (after binding, for port 0).
func (g *Gateway) SetStoreOrigin(origin string) {
	origin = strings.TrimSuffix(origin, "/")
	g.storeOrigin.Store(&origin)
}

// cors applies the API's CORS settings to a call (the hook where the API is
// resolved): the headers every answer from here on carries, refusals
// included, and the answer to a preflight, written here without a token.
// It reports whether it answered.
func (g *Gateway) cors(w http.ResponseWriter, r *http.Request, rt *route) bool {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if preflight {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	if origin == "" {
		return false
	}
	store := ""
	if s := g.storeOrigin.Load(); s != nil {
		store = *s
	}
	if !rt.cors.allows(origin, store) {
		if preflight {
			corsRefused("the origin " + origin + " may not call this API from a browser").write(w)
			return true
		}
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if !preflight {
		return false
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if !slices.Contains(rt.cors.methods, method) {
		corsRefused("this API does not let browsers use the method " + method).write(w)
		return true
	}
	for name := range strings.SplitSeq(r.Header.Get("Access-Control-Request-Headers"), ",") {
		name = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name))
		if name != "" && !slices.Contains(rt.cors.headers, name) {
			corsRefused("this API does not let browsers send the header " + name).write(w)
			return true
		}
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(rt.cors.methods, ", "))
	h.Set("Access-Control-Allow-Headers", strings.Join(rt.cors.headers, ", "))
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// corsRefused answers a preflight the API's settings refuse. The answer
// lacks what the browser looks for, so it fails the call; the fault says
// why to whoever reads the network log.
func corsRefused(why string) *Refusal {
	return &Refusal{Status: http.StatusForbidden, Code: CodeForbidden, Message: "CORS request refused", Description: why}
}

// corsBackendAnswer is the hook on a backend's answer: its own CORS headers
// go, and when the API's settings allowed the call (the caller's answer
// already names the origin), the browser app may read every header the
// backend sent.
func corsBackendAnswer(caller, backend http.Header) {
	allowed := caller.Get("Access-Control-Allow-Origin") != ""
	var expose []string
	for name := range backend {
		if strings.HasPrefix(name, "Access-Control-") {
			delete(backend, name)
		} else if allowed && name != "Set-Cookie" {
			expose = append(expose, name)
		}
	}
	if len(expose) > 0 {
		slices.Sort(expose)
		caller.Set("Access-Control-Expose-Headers", strings.Join(expose, ", "))
	}
}

// refusalHeaders are the headers of the gateway's refusals a browser app
// needs: the challenge naming a missing scope, when to try again, the
// methods a resource takes, and the DPoP nonce to sign with (RFC 9449 §9).
var refusalHeaders = []string{"WWW-Authenticate", "Retry-After", "Allow", "DPoP-Nonce"}

// corsRefusal is the hook on a refusal: when the call's origin may read
// it, it may read the refusal's headers too.
func corsRefusal(h http.Header) {
	if h.Get("Access-Control-Allow-Origin") != "" {
		h.Set("Access-Control-Expose-Headers", strings.Join(refusalHeaders, ", "))
	}
}

// token is an RFC 9110 §5.6.2 token: a header name or a method.
var token = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// corsProblems checks an API's CORS settings, field by field.
func corsProblems(c portal.CORS) []Problem {
	var out []Problem
	for _, o := range c.Origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			out = append(out, Problem{"cors_origins", fmt.Sprintf("origin %q: write scheme://host[:port], e.g. https://app.example.com, or * for any", o)})
		}
	}
	for _, h := range c.Headers {
		if !token.MatchString(h) {
			out = append(out, Problem{"cors_headers", fmt.Sprintf("%q is not a header name", h)})
		}
	}
	for _, m := range c.Methods {
		if !token.MatchString(m) || m != strings.ToUpper(m) {
			out = append(out, Problem{"cors_methods", fmt.Sprintf("%q is not a method: write it in capitals, e.g. GET", m)})
		}
	}
	return out
}
