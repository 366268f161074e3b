package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// Methods lists the HTTP methods a resource can have.
var Methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// reserved are first path segments that belong to the endpoints the
// gateway's listeners serve before API contexts: OAuth, health, the store's
// pages and assets (web's tests check every route against it).
var reserved = []string{"token", "authorize", "revoke", "introspect", "userinfo", ".well-known", "store", "static",
	"oauth2", "healthz", "readyz"}

// Reserved reports whether a path's first segment belongs to one of those
// endpoints, so no API context may start with it.
func Reserved(path string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return slices.Contains(reserved, first)
}

var (
	contextPattern = regexp.MustCompile(`^(/[A-Za-z0-9][A-Za-z0-9._~-]*)+$`)
	versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]*$`)
	literalPattern = regexp.MustCompile(`^[A-Za-z0-9._~!$&'()+,;=:@-]+$`)
	paramPattern   = regexp.MustCompile(`^\{[A-Za-z_][A-Za-z0-9_.-]*\}$`)
)

// Problem is one thing wrong with an API, and the field it is about: name,
// version, context, production_url, sandbox_url, tiers or resources.
type Problem struct {
	Field   string
	Message string
}

// Check reports every problem with an API a publisher describes, in words
// fit for a command line.
func Check(a *portal.API) error {
	var errs []error
	for _, p := range Problems(a) {
		errs = append(errs, errors.New(p.Message))
	}
	return errors.Join(errs...)
}

// Problems lists what is wrong with an API, field by field, for a form.
func Problems(a *portal.API) []Problem {
	var out []Problem
	add := func(field, format string, args ...any) {
		out = append(out, Problem{field, fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(a.Name) == "" {
		add("name", "the name is empty")
	}
	if !versionPattern.MatchString(a.Version) {
		add("version", "version %q: use letters, digits, dots, dashes or underscores, e.g. 1.0.0", a.Version)
	}
	switch {
	case !contextPattern.MatchString(a.Context):
		add("context", "context %q: it must start with / and hold letters, digits, dots, dashes or underscores, e.g. /pizzashack", a.Context)
	case Reserved(a.Context):
		add("context", "context %q: %s is reserved for apistore's own endpoints", a.Context, strings.SplitN(a.Context, "/", 3)[1])
	}
	for _, e := range []struct{ field, name, url string }{{"production_url", "production", a.ProductionURL}, {"sandbox_url", "sandbox", a.SandboxURL}} {
		if err := checkEndpoint(e.url); err != nil {
			add(e.field, "%s endpoint: %v", e.name, err)
		}
	}
	if a.ProductionURL == "" && a.SandboxURL == "" {
		add("production_url", "give a production or a sandbox endpoint URL")
	}
	// Which tiers exist is the API's tenant's (portal.TenantTiers): its
	// publisher checks them against those; here only the names.
	for _, t := range a.Tiers {
		if !portal.ValidTierName(t) {
			add("tiers", "tier %q: a tier's name is 1 to 32 letters, digits, - or _, beginning with a letter", t)
		}
	}
	if len(a.Resources) == 0 {
		add("resources", "the API has no resources")
	}
	seen := map[string]bool{}
	for _, r := range a.Resources {
		if err := checkResource(r); err != nil {
			add("resources", "%v", err)
		}
		key := r.Method + " " + r.Path
		if seen[key] {
			add("resources", "resource %s is listed twice", key)
		}
		seen[key] = true
	}
	return append(out, corsProblems(a.CORS)...)
}

// ParseResources reads resources written one a line as METHOD /template
// [scope], e.g. "POST /order update"; blank lines are skipped. Every line
// is checked as Problems checks a resource, and the error names each bad
// line ("line 3: …"), one a line, beside the resources of the good ones.
func ParseResources(text string) ([]portal.Resource, error) {
	var out []portal.Resource
	var errs []error
	seen := map[string]int{} // METHOD /path: the line that first had it
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) > 3 || len(f) == 1 {
			errs = append(errs, fmt.Errorf("line %d: write METHOD /path and an optional scope, e.g. POST /order update", i+1))
			continue
		}
		r := portal.Resource{Method: strings.ToUpper(f[0]), Path: f[1]}
		if len(f) == 3 {
			r.Scope = f[2]
		}
		key := r.Method + " " + r.Path
		if err := checkResource(r); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", i+1, err))
		} else if first, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("line %d: resource %s is listed on line %d already", i+1, key, first))
		} else {
			seen[key] = i + 1
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// FormatResources writes resources as ParseResources reads them.
func FormatResources(rs []portal.Resource) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Method + " " + r.Path)
		if r.Scope != "" {
			b.WriteString(" " + r.Scope)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// checkEndpoint accepts an empty URL (no such endpoint) or an absolute http(s) URL.
func checkEndpoint(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q: an endpoint has no query, fragment or credentials", raw)
	}
	return nil
}

func checkResource(r portal.Resource) error {
	if !slices.Contains(Methods, r.Method) {
		return fmt.Errorf("resource %s %s: unknown method (methods: %s)", r.Method, r.Path, strings.Join(Methods, ", "))
	}
	if _, err := compileTemplate(r.Path); err != nil {
		return fmt.Errorf("resource %s %s: %w", r.Method, r.Path, err)
	}
	// The gateway refuses calls with a ; in their path (see pathProblem):
	// such a template could never be called. Checked here, not when
	// routing, so that an API saved before still runs.
	if strings.Contains(r.Path, ";") {
		return fmt.Errorf("resource %s %s: a ; cannot be called through the gateway, which refuses path parameters (;…)", r.Method, r.Path)
	}
	// The gateway would serve it (a parameter matches any segment), but a
	// backend binding parameters by name gets one value for two segments.
	// Checked here, not when routing, so that an API saved before still runs.
	params := map[string]bool{}
	for part := range strings.SplitSeq(r.Path, "/") {
		if paramPattern.MatchString(part) {
			if params[part] {
				return fmt.Errorf("resource %s %s: the parameter %s appears twice; give each its own name", r.Method, r.Path, part)
			}
			params[part] = true
		}
	}
	if r.Scope != "" {
		if err := oauth.CheckScopeName(r.Scope); err != nil {
			return fmt.Errorf("resource %s %s: scope %q: %w", r.Method, r.Path, r.Scope, err)
		}
	}
	return nil
}

// segment is one part of a compiled URL template.
type segment struct {
	literal string
	param   bool // {name}: any one non-empty segment
}

// template is a compiled URL template such as /order/{orderId}; a final /*
// matches any rest of the path, as in WSO2.
type template struct {
	segs     []segment
	wildcard bool
}

func compileTemplate(path string) (template, error) {
	var t template
	if !strings.HasPrefix(path, "/") {
		return t, errors.New("the URL template must start with /")
	}
	if path == "/" {
		return t, nil
	}
	parts := strings.Split(path[1:], "/")
	for i, p := range parts {
		switch {
		case p == "*" && i == len(parts)-1:
			t.wildcard = true
		case paramPattern.MatchString(p):
			t.segs = append(t.segs, segment{param: true})
		case literalPattern.MatchString(p) && p != "." && p != "..":
			t.segs = append(t.segs, segment{literal: p})
		default:
			return t, fmt.Errorf("bad URL template part %q: use literal text, {name} or a final *", p)
		}
	}
	return t, nil
}

// match reports whether path (starting with /, or empty for the API's
// root) fits the template, and how specific the fit is: literal parts
// count more than parameters, and a wildcard least.
func (t *template) match(path string) (score int, ok bool) {
	rest := strings.TrimPrefix(path, "/")
	for _, s := range t.segs {
		if rest == "" {
			return 0, false
		}
		part := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		switch {
		case s.param && part == "":
			// An empty segment is no value, and a backend may fold
			// "//" into "/" and serve another resource than the one
			// whose scope was checked.
			return 0, false
		case s.param:
			score++
		case part == s.literal:
			score += 2
		default:
			return 0, false
		}
	}
	if rest != "" && !t.wildcard {
		return 0, false
	}
	if !t.wildcard {
		score++
	}
	return score, true
}

// resource is an API resource ready for matching.
type resource struct {
	portal.Resource
	tpl template
}

// route is a published API ready for serving.
type route struct {
	api       *portal.API
	prefix    string // context/version, e.g. /pizzashack/1.0.0
	resources []resource
	endpoints map[string]*url.URL // by key type; absent: no such endpoint
	cors      *corsPolicy
}

func newRoute(a *portal.API) (*route, error) {
	rt := &route{api: a, prefix: a.Context + "/" + a.Version, endpoints: map[string]*url.URL{}, cors: newCORSPolicy(a)}
	for kt, raw := range map[string]string{"PRODUCTION": a.ProductionURL, "SANDBOX": a.SandboxURL} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("API %s: %s endpoint: %w", rt.prefix, kt, err)
		}
		rt.endpoints[kt] = u
	}
	for _, r := range a.Resources {
		tpl, err := compileTemplate(r.Path)
		if err != nil {
			return nil, fmt.Errorf("API %s: resource %s: %w", rt.prefix, r.Path, err)
		}
		rt.resources = append(rt.resources, resource{Resource: r, tpl: tpl})
	}
	return rt, nil
}

// resource finds the most specific resource for a method and path. With no
// resource for the method, pathKnown says whether another method's resource
// fits the path (405 rather than 404). HEAD, unless a resource has it, is
// served as the GET resource is (RFC 9110 §9.3.2: the same answer without
// its content), with its scope.
func (rt *route) resource(method, path string) (best *resource, pathKnown bool) {
	best, pathKnown = rt.bestResource(method, path)
	if best == nil && method == "HEAD" {
		best, _ = rt.bestResource("GET", path)
	}
	return best, pathKnown
}

func (rt *route) bestResource(method, path string) (best *resource, pathKnown bool) {
	bestScore := -1
	for i := range rt.resources {
		r := &rt.resources[i]
		score, ok := r.tpl.match(path)
		if !ok {
			continue
		}
		pathKnown = true
		if r.Method == method && score > bestScore {
			best, bestScore = r, score
		}
	}
	return best, pathKnown
}

// allowed lists the methods of the resources that fit path, for Allow.
func (rt *route) allowed(path string) string {
	var methods []string
	for i := range rt.resources {
		r := &rt.resources[i]
		if _, ok := r.tpl.match(path); ok && !slices.Contains(methods, r.Method) {
			methods = append(methods, r.Method)
		}
	}
	if slices.Contains(methods, "GET") && !slices.Contains(methods, "HEAD") {
		methods = append(methods, "HEAD")
	}
	return strings.Join(methods, ", ")
}

// routes maps context/version prefixes to their APIs.
type routes struct {
	byPrefix map[string]*route
	// longest is the length of the longest prefix: no longer part of a
	// path is looked up, so a path of many segments costs no more than
	// the API contexts do (each lookup hashes the prefix tried).
	longest int
}

// add serves an API at its prefix.
func (rs *routes) add(rt *route) {
	if rs.byPrefix == nil {
		rs.byPrefix = map[string]*route{}
	}
	rs.byPrefix[rt.prefix] = rt
	rs.longest = max(rs.longest, len(rt.prefix))
}

// find returns the API whose context/version prefixes path, and the rest of
// the path. Only whole segments match.
func (rs *routes) find(path string) (*route, string) {
	for i := 1; i < len(path) && i < rs.longest; i++ {
		if path[i] != '/' {
			continue
		}
		end := strings.IndexByte(path[i+1:], '/')
		if end < 0 {
			end = len(path)
		} else {
			end += i + 1
		}
		if end > rs.longest {
			break
		}
		if rt, ok := rs.byPrefix[path[:end]]; ok {
			return rt, path[end:]
		}
	}
	return nil, ""
}
