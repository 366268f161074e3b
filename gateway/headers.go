package gateway

import (
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

// DefaultDroppedResponseHeaders are the headers of backends' answers that
// name their software, its version or internal machines: of no use to a
// caller, and a map for an attacker. Config.DropResponseHeaders replaces
// the list.
var DefaultDroppedResponseHeaders = []string{"Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version",
	"X-Runtime", "X-Backend-Server", "X-Debug-Token", "X-Debug-Token-Link"}

// methodOverrideHeaders name, in frameworks that honour them (Rails,
// Symfony, Laravel, Express's method-override, ASP.NET, OData), the method
// a request stands for. The gateway matches resources and checks scopes by
// method, so a GET standing for a DELETE must not reach such a backend
// unchecked.
var methodOverrideHeaders = canonical("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")

// urlOverrideHeaders name, in IIS, Symfony and Zend, the path a request
// stands for: a backend would serve another resource than the one matched.
// They are never passed on.
var urlOverrideHeaders = canonical("X-Original-URL", "X-Rewrite-URL")

// clientAddressHeaders are headers besides X-Forwarded-For that backends
// behind nginx or a CDN read as the client's address: a trusted proxy's
// are passed on, anyone else's are dropped.
var clientAddressHeaders = canonical("X-Real-IP", "X-Client-IP", "True-Client-IP", "X-Cluster-Client-IP")

// canonical spells header names as http.Header keys them, once: looking
// them up or deleting them on every call then costs no allocation.
func canonical(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = textproto.CanonicalMIMEHeaderKey(n)
	}
	return out
}

// methodOverride returns the method a call names besides its own, in
// methodOverrideHeaders or a _method query parameter; "" when it names
// none, or only its own. problem is set when it names several.
func methodOverride(r *http.Request) (method, problem string) {
	var named []string
	for _, h := range methodOverrideHeaders {
		for _, v := range r.Header[h] {
			named = append(named, strings.ToUpper(strings.TrimSpace(v)))
		}
	}
	if r.URL.RawQuery != "" {
		named = append(named, methodParams(r.URL.RawQuery)...)
	}
	for _, m := range named {
		switch {
		case m == "" || m == r.Method:
		case method == "":
			method = m
		case m != method:
			return "", "the request names more than one method (" + method + ", " + m + ")"
		}
	}
	return method, ""
}

// methodParams returns the values of the _method parameters of a query,
// upper-cased, in one pass. PHP reads " method", ".method" and "[method"
// as _method too, so they count.
func methodParams(query string) []string {
	var out []string
	for pair := range strings.SplitSeq(query, "&") {
		key, value, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(key, "%+") {
			key, _ = url.QueryUnescape(key)
		}
		if len(key) != len("_method") || key[1:] != "method" || strings.IndexByte("_ .[", key[0]) < 0 {
			continue
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		out = append(out, strings.ToUpper(strings.TrimSpace(value)))
	}
	return out
}

// requestHeaders removes what a caller must not tell a backend: URL
// overrides always, method overrides unless they are passed on (the call
// was then checked as both methods), and the client address headers of a
// caller that is not a trusted proxy.
func requestHeaders(h http.Header, passMethodOverride, trustedProxy bool) {
	for _, name := range urlOverrideHeaders {
		delete(h, name)
	}
	if !passMethodOverride {
		for _, name := range methodOverrideHeaders {
			delete(h, name)
		}
	}
	if !trustedProxy {
		for _, name := range clientAddressHeaders {
			delete(h, name)
		}
	}
}

// responseFilter removes from a backend's answer what must not reach the
// caller.
type responseFilter struct {
	drop []string // canonical header names
}

func newResponseFilter(drop []string) *responseFilter {
	if drop == nil {
		drop = DefaultDroppedResponseHeaders
	}
	f := &responseFilter{}
	for _, name := range drop {
		f.drop = append(f.drop, textproto.CanonicalMIMEHeaderKey(name))
	}
	return f
}

// clean drops the configured headers, and always the store's cookies and
// Clear-Site-Data: cookies ignore ports, so a backend's cookie named as the
// store's session would be sent to the store (planting a session of the
// backend's choosing), and Clear-Site-Data would end the caller's store
// session.
func (f *responseFilter) clean(h http.Header) {
	for _, name := range f.drop {
		delete(h, name)
	}
	delete(h, "Clear-Site-Data")
	if cookies, ok := h["Set-Cookie"]; ok {
		kept := slices.DeleteFunc(slices.Clone(cookies), setsOwnCookie)
		if len(kept) == 0 {
			delete(h, "Set-Cookie")
		} else {
			h["Set-Cookie"] = kept
		}
	}
}

// setsOwnCookie reports whether a Set-Cookie value sets one of apistore's
// cookies, in any case, with a __Host- or __Secure- prefix, or as a
// nameless cookie ("=apistore_session=…"), which browsers send as its value
// alone and which then reads as apistore_session=….
func setsOwnCookie(setCookie string) bool {
	pair, _, _ := strings.Cut(setCookie, ";")
	name, value, _ := strings.Cut(pair, "=")
	if name = strings.TrimSpace(name); name == "" {
		name, _, _ = strings.Cut(strings.TrimSpace(value), "=")
	}
	name = strings.ToLower(name)
	for _, prefix := range []string{"__host-", "__secure-"} {
		name = strings.TrimPrefix(name, prefix)
	}
	return strings.HasPrefix(name, ownCookiePrefix)
}
