// Package gateway serves published APIs at /{context}/{version}/{path}: it
// validates bearer tokens through the oauth core, checks subscriptions,
// resource scopes and tier limits, proxies to the production or sandbox
// endpoint, and records each call.
//
// Validation results are cached in memory, but never outlive a change: the
// cache is keyed by the store's access generation, read on every request,
// which every change that could end access moves, whoever commits it: this
// process, an admin command, another node. Such a change drops every cached
// token, subscription and route, so a revoked token, a deleted user or a
// retired API is refused on the very next request.
package gateway

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// Config tunes the gateway; zero fields take the defaults in New.
type Config struct {
	// Limits are requests per minute by default tier (portal.Tiers); a
	// tier not in the map, or with a limit of 0 or less, is unlimited. Nil
	// means DefaultLimits. A tenant's own tiers, and its limits for default
	// ones, come from the store (CustomTiers) and win.
	Limits map[string]int
	// ConnectTimeout bounds connecting to a backend (default 5s).
	ConnectTimeout time.Duration
	// BackendTimeout bounds waiting for a backend's response headers
	// (default 60s; past it the caller gets 504), and each pause in the
	// body that follows (past it the answer is cut off).
	BackendTimeout time.Duration
	// UsageInterval and UsageBatch say how often, or after how many calls,
	// usage is written (default 1s, 5000).
	UsageInterval time.Duration
	UsageBatch    int
	// UsageRetention is how long usage records are kept (default 90 days).
	UsageRetention time.Duration
	// Observe, when set, sees every call recorded (for the operators'
	// metrics), on the request's goroutine: it must be quick.
	Observe func(portal.Usage)
	// ObserveWrite, when set, sees every batch of usage records written:
	// its size, the time its commit took and its error.
	ObserveWrite func(calls int, took time.Duration, err error)
	// Now is the clock of tier windows, token expiry and usage times
	// (default time.Now).
	Now func() time.Time
	// Builtin maps the host:port of an endpoint served inside this process
	// (portal.SampleEndpointHost) to the address it listens on here.
	Builtin map[string]string
	// BodyTimeout bounds each pause in a caller's request body (default
	// 30s; past it the caller gets 408).
	BodyTimeout time.Duration
	// TrustedProxies are the callers whose X-Forwarded-For, -Proto and
	// -Host are passed on to backends; other callers' are replaced.
	TrustedProxies []netip.Prefix
	// DropResponseHeaders are the headers of a backend's answers that
	// callers never see: nil means DefaultDroppedResponseHeaders (Server,
	// X-Powered-By and the like), an empty list drops none.
	DropResponseHeaders []string
	// PassMethodOverride passes X-HTTP-Method-Override and its kin on to
	// every API's backend, and checks a call as both its method and the
	// one it names; without it a call naming another method is refused,
	// unless its API passes them (portal.API.PassMethodOverride).
	PassMethodOverride bool

	// BaseURL is the base URL (scheme://host[:port]) clients reach the
	// listener of a request at, which DPoP proofs name in htu (RFC 9449
	// §4.3); nil: the request's scheme and Host header, which only tests
	// should rely on (any client writes Host).
	BaseURL func(r *http.Request) string

	// standardTransport sends every call through httputil.ReverseProxy
	// and http.Transport, none through directProxy and backendTransport:
	// tests run the calls they carry differently through both.
	standardTransport bool
}

// Store is what the gateway needs of storage.
type Store interface {
	// Generation is the access generation (db.Freshness): equal values
	// mean nothing the gateway caches has changed.
	Generation(ctx context.Context) (uint64, error)
	PublishedAPIs(ctx context.Context) ([]portal.API, error)
	// CustomTiers lists the tiers tenants set (portal.TenantTiers).
	CustomTiers(ctx context.Context) ([]portal.Tier, error)
	// SubscriptionTier returns the id and tier of an application's
	// subscription to an API, or ErrNotFound.
	SubscriptionTier(ctx context.Context, appID, apiID int64) (id int64, tier string, err error)
	// TakeQuota takes up to want of a window's limit calls (see throttle).
	TakeQuota(ctx context.Context, k portal.QuotaKey, window time.Time, want, limit int) (int, error)
	RecordUsage(ctx context.Context, calls []portal.Usage) error
	DeleteUsageBefore(ctx context.Context, before time.Time) (int64, error)
	DeleteRollupsBefore(ctx context.Context, span time.Duration, before time.Time) (int64, error)
	DeleteQuotasBefore(ctx context.Context, before time.Time) (int64, error)
	// RunAlone runs a job unless another node runs it.
	RunAlone(ctx context.Context, job string, fn func(context.Context) error) (bool, error)
}

// Gateway is the http.Handler of published APIs.
type Gateway struct {
	oauth    *oauth.Server
	store    Store
	now      func() time.Time
	proxy    *httputil.ReverseProxy
	direct   *directProxy // nil: every call through proxy
	throttle *throttle
	usage    *recorder
	observe  func(portal.Usage) // nil: none

	state   atomic.Pointer[snapshot]
	rebuild sync.Mutex // one reload of the routes at a time

	responses          *responseFilter
	passMethodOverride bool
	storeOrigin        atomic.Pointer[string] // see SetStoreOrigin
	baseURL            func(*http.Request) string
}

// New returns a gateway over the oauth core and the store. Close it to
// write the last usage records.
func New(o *oauth.Server, d Store, cfg Config) *Gateway {
	if cfg.Limits == nil {
		cfg.Limits = DefaultLimits
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.BackendTimeout <= 0 {
		cfg.BackendTimeout = 60 * time.Second
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.UsageInterval <= 0 {
		cfg.UsageInterval = time.Second
	}
	if cfg.UsageBatch <= 0 {
		cfg.UsageBatch = 5000
	}
	if cfg.UsageRetention <= 0 {
		cfg.UsageRetention = 90 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BaseURL == nil {
		cfg.BaseURL = requestBaseURL
	}
	prune := func() {
		ctx := context.Background()
		_, err := d.RunAlone(ctx, "prune usage", func(ctx context.Context) error {
			now := cfg.Now()
			n, err := d.DeleteUsageBefore(ctx, now.Add(-cfg.UsageRetention))
			if err != nil {
				return err
			}
			for _, span := range portal.RollupSpans {
				r, err := d.DeleteRollupsBefore(ctx, span, now.Add(-portal.RollupRetention[span]))
				if err != nil {
					return err
				}
				n += r
			}
			q, err := d.DeleteQuotasBefore(ctx, now.Add(-time.Hour))
			if n+q > 0 {
				slog.Info("gateway: pruned usage", "deleted", n, "quota_windows", q)
			}
			return err
		})
		if err != nil {
			slog.Error("gateway: prune usage", "err", err)
		}
	}
	g := &Gateway{oauth: o, store: d, now: cfg.Now, throttle: newThrottle(cfg.Limits, d.TakeQuota),
		usage:     newRecorder(observedWrite(d.RecordUsage, cfg.ObserveWrite), prune, cfg.UsageInterval, cfg.UsageBatch),
		observe:   cfg.Observe,
		responses: newResponseFilter(cfg.DropResponseHeaders), passMethodOverride: cfg.PassMethodOverride,
		baseURL: cfg.BaseURL}
	buffers := &bufferPool{}
	transport := newTransport(cfg)
	var backends http.RoundTripper = transport
	if !cfg.standardTransport {
		own := newBackendTransport(transport, cfg.BackendTimeout)
		backends = own
		g.direct = newDirectProxy(cfg, own, g.responses, buffers)
	}
	g.proxy = newProxy(cfg, g.responses, backends, buffers)
	return g
}

// QueuedUsage is the number of calls waiting for the usage writer.
func (g *Gateway) QueuedUsage() int { return len(g.usage.calls) }

// Close writes the usage still queued; call it once no request is in flight
// (calling it again is harmless).
func (g *Gateway) Close() {
	g.usage.close()
	g.proxy.Transport.(interface{ CloseIdleConnections() }).CloseIdleConnections()
}

// snapshot is what the gateway knows as of one access generation: the
// routes and the tokens and subscriptions looked up since. Its values are
// shared by concurrent requests, which only read them.
type snapshot struct {
	generation uint64
	routes     routes
	tiers      map[portal.TierKey]int // requests per minute of the tiers tenants set
	tokens     boundedMap[oauth.Hash, *oauth.TokenInfo]
	subs       boundedMap[subKey, subscription]
	assertions boundedMap[assertionKey, assertion]
}

// maxCached bounds each of a snapshot's caches: past it, the cache starts
// again empty, so a flood of distinct tokens cannot grow it without end.
const maxCached = 100_000

// boundedMap is a concurrent map of at most maxCached entries.
type boundedMap[K comparable, V any] struct {
	m    sync.Map
	size atomic.Int64
}

func (b *boundedMap[K, V]) load(k K) (V, bool) {
	v, ok := b.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

func (b *boundedMap[K, V]) store(k K, v V) {
	if b.size.Add(1) > maxCached {
		b.m.Clear()
		b.size.Store(1)
	}
	b.m.Store(k, v)
}

type subKey struct{ app, api int64 }

// subscription is a cached subscription lookup; id 0 means not subscribed.
// limit is its tier's, in the API's tenant (0: unlimited).
type subscription struct {
	id    int64
	tier  string
	limit int
}

// current returns the snapshot of the database's present state, rebuilding
// it when anything was committed since.
func (g *Gateway) current(ctx context.Context) (*snapshot, error) {
	n, err := g.store.Generation(ctx)
	if err != nil {
		return nil, err
	}
	if s := g.state.Load(); s != nil && s.generation == n {
		return s, nil
	}
	g.rebuild.Lock()
	defer g.rebuild.Unlock()
	if s := g.state.Load(); s != nil && s.generation == n {
		return s, nil
	}
	// The generation was read before the routes, so a change made meanwhile
	// makes the next request rebuild again rather than trust stale data.
	apis, err := g.store.PublishedAPIs(ctx)
	if err != nil {
		return nil, err
	}
	tiers, err := g.store.CustomTiers(ctx)
	if err != nil {
		return nil, err
	}
	s := &snapshot{generation: n, tiers: make(map[portal.TierKey]int, len(tiers))}
	for _, t := range tiers {
		s.tiers[portal.TierKey{TenantID: t.TenantID, Name: t.Name}] = t.RPM
	}
	for i := range apis {
		rt, err := newRoute(&apis[i])
		if err != nil {
			slog.ErrorContext(ctx, "gateway: API not served", "err", err)
			continue
		}
		s.routes.add(rt)
	}
	g.state.Store(s)
	return s, nil
}

// token validates a bearer token, through the snapshot's cache.
func (g *Gateway) token(ctx context.Context, s *snapshot, bearer string) (*oauth.TokenInfo, *Refusal) {
	h := oauth.HashOf(bearer)
	if info, ok := s.tokens.load(h); ok {
		if !info.ExpiresAt.IsZero() && !g.now().Before(info.ExpiresAt) {
			return nil, invalidToken("the access token expired")
		}
		return info, nil
	}
	info, err := g.oauth.Validate(ctx, bearer)
	if errors.Is(err, oauth.ErrInvalidToken) {
		return nil, invalidToken("the access token is unknown, expired or revoked")
	}
	if err != nil {
		slog.ErrorContext(ctx, "gateway: validate token", "err", err)
		return nil, internalError()
	}
	s.tokens.store(h, info)
	return info, nil
}

// subscription looks up an application's subscription to an API, with
// its tier's limit in the API's tenant, through the snapshot's cache.
func (g *Gateway) subscription(ctx context.Context, s *snapshot, appID int64, api *portal.API) (subscription, error) {
	apiID := api.ID
	key := subKey{appID, apiID}
	if sub, ok := s.subs.load(key); ok {
		return sub, nil
	}
	id, tier, err := g.store.SubscriptionTier(ctx, appID, apiID)
	if err != nil && !errors.Is(err, portal.ErrNotFound) {
		return subscription{}, err
	}
	sub := subscription{id: id, tier: tier, limit: g.throttle.limits[tier]}
	if rpm, ok := s.tiers[portal.TierKey{TenantID: portal.TenantIDOf(api.TenantID), Name: tier}]; ok {
		sub.limit = rpm
	}
	s.subs.store(key, sub)
	return sub, nil
}

// ServeHTTP serves one API call: route, resource, token, subscription,
// scope, tier, then the backend.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := r.Context()
	s, err := g.current(ctx)
	if err != nil {
		slog.ErrorContext(ctx, "gateway: load state", "err", err)
		internalError().write(w)
		return
	}
	if len(r.URL.Path) > maxPathBytes {
		pathTooLong().write(w)
		return
	}
	if problem := pathProblem(r.URL); problem != "" {
		notCanonical(problem).write(w)
		return
	}
	rt, rest := s.routes.find(r.URL.Path)
	if rt == nil {
		notFound("no published API has this context and version").write(w)
		return
	}
	// CORS hook (cors.go): from here on every answer carries the API's
	// CORS headers; a preflight is answered here, without a token.
	if g.cors(w, r, rt) {
		return
	}
	// Method overrides are passed on for every API by configuration, or
	// for this one by its setting; else a call naming another method than
	// its own is refused.
	passOverride := g.passMethodOverride || rt.api.PassMethodOverride
	override, problem := methodOverride(r)
	switch {
	case problem != "":
		methodOverridden(problem).write(w)
		return
	case override != "" && !passOverride:
		methodOverridden("it names the method " + override + " besides its own (" + r.Method +
			"); the gateway checks calls by their own method and does not pass such overrides on for this API: send a " +
			override + " request").write(w)
		return
	}
	res, pathKnown := rt.resource(r.Method, rest)
	// A call standing for another method (passed on by configuration)
	// must be allowed as that method too: the backend may honour either.
	var overridden *resource
	if res != nil && override != "" {
		overridden, _ = rt.resource(override, rest)
		if overridden == nil {
			w.Header().Set("Allow", rt.allowed(rest))
			methodNotAllowed(override).write(w)
			return
		}
	}
	if res == nil {
		if pathKnown {
			w.Header().Set("Allow", rt.allowed(rest))
			methodNotAllowed(r.Method).write(w)
		} else {
			notFound("the API has no resource for this path").write(w)
		}
		return
	}
	bearer, ok := bearerToken(r)
	dpopScheme := false
	if !ok {
		bearer, dpopScheme = schemeToken(r, "DPoP ")
		ok = dpopScheme
	}
	if !ok {
		missingToken().write(w)
		return
	}
	info, refusal := g.token(ctx, s, bearer)
	if refusal == nil {
		refusal = certificateBinding(r, info)
	}
	if refusal == nil {
		refusal = g.checkDPoP(w, r, info, bearer, dpopScheme)
	}
	if refusal != nil {
		refusal.write(w)
		return
	}
	call := portal.Usage{At: g.now(), AppID: info.AppID, APIID: rt.api.ID, APIName: rt.api.Name, APIVersion: rt.api.Version,
		Method: r.Method, Resource: res.Path, KeyType: string(info.KeyType)}
	// The recorder and the backend call live as long as the call: one
	// allocation for both.
	both := &struct {
		rec statusRecorder
		bc  backendCall
	}{statusRecorder{ResponseWriter: w, status: http.StatusOK, responses: g.responses, dpop: info.JKT != ""},
		backendCall{passMethodOverride: passOverride}}
	rec, bc := &both.rec, &both.bc
	finished := false
	defer func() {
		// ReverseProxy panics with http.ErrAbortHandler when the answer
		// breaks off after its header was sent: the caller went away, or
		// the backend did. The call is recorded all the same, as failed.
		call.Status, call.Fault, call.Latency = rec.status, rec.fault, time.Since(start)
		switch {
		case finished:
		case bc.stalled.Load():
			call.Status, call.Fault = http.StatusGatewayTimeout, CodeBackendTimeout
		case ctx.Err() != nil:
			call.Status = statusClientClosed
		default:
			call.Status, call.Fault = http.StatusBadGateway, CodeBackendUnreachable
		}
		g.usage.record(call)
		if g.observe != nil {
			g.observe(call)
		}
	}()
	g.serveAuthorized(rec, r, s, rt, []*resource{res, overridden}, info, rest, bc)
	finished = true
}

// statusClientClosed is nginx's status for a call whose caller went away
// before the answer was complete.
const statusClientClosed = 499

// serveAuthorized goes on once the token is valid: subscription, scope, tier,
// endpoint, then the backend. The token must have the scope of every one of
// resources (the call's, and the one of a method it stands for; nil for
// none).
func (g *Gateway) serveAuthorized(w http.ResponseWriter, r *http.Request, s *snapshot, rt *route, resources []*resource, info *oauth.TokenInfo, rest string, bc *backendCall) {
	ctx := r.Context()
	if !rt.api.Shared && !strings.EqualFold(portal.ContextTenant(rt.api.Context), portal.TenantOrSuper(info.Tenant)) {
		// Another tenant's private API: as if it were not subscribed to,
		// whatever the subscriptions say.
		notSubscribed().write(w)
		return
	}
	sub, err := g.subscription(ctx, s, info.AppID, rt.api)
	switch {
	case err != nil:
		slog.ErrorContext(ctx, "gateway: load subscription", "err", err)
		internalError().write(w)
		return
	case sub.id == 0:
		notSubscribed().write(w)
		return
	}
	for _, res := range resources {
		if res != nil && !hasScope(info, rt, res) {
			refusal := insufficientScope(res.Scope)
			if tenant := portal.ContextTenant(rt.api.Context); !strings.EqualFold(tenant, portal.TenantOrSuper(info.Tenant)) {
				refusal.Description += " of the tenant " + tenant + ", which only that tenant's tokens hold"
			}
			refusal.write(w)
			return
		}
	}
	ok, wait, err := g.throttle.allow(ctx, portal.QuotaKey{AppID: info.AppID, APIID: rt.api.ID, KeyType: string(info.KeyType)}, sub.limit, g.now())
	switch {
	case err != nil:
		slog.ErrorContext(ctx, "gateway: count call", "err", err)
		internalError().write(w)
		return
	case !ok:
		w.Header().Set("Retry-After", retryAfter(wait))
		throttled().write(w)
		return
	}
	endpoint := rt.endpoints[string(info.KeyType)]
	if endpoint == nil {
		noEndpoint(strings.ToLower(string(info.KeyType))).write(w)
		return
	}
	if rt.api.BackendJWT {
		if bc.assertion, err = g.assertion(ctx, s, rt, info, sub.tier); err != nil {
			slog.ErrorContext(ctx, "gateway: sign backend JWT", "err", err)
			internalError().write(w)
			return
		}
	}
	bc.endpoint, bc.prefix, bc.caller = endpoint, rt.prefix, w
	target := backendURL(endpoint, r.URL, rest, strings.Count(rt.prefix, "/"))
	if g.direct != nil && g.direct.serve(ctx, w, r, bc, &target) {
		return
	}
	ctx, bc.cancel = context.WithCancel(ctx)
	defer bc.cancel()
	out := r.WithContext(context.WithValue(ctx, backendCallKey{}, bc))
	outURL := target // a copy of its own, so that target stays on the stack for directProxy
	out.URL = &outURL
	g.proxy.ServeHTTP(w, out)
}

// hasScope reports whether a token may call a resource of rt's API: it
// has the resource's scope, or the resource needs none. A scope is its
// tenant's: the token of another tenant (calling a shared API) holds that
// tenant's scopes, never the API's, whatever their names.
func hasScope(info *oauth.TokenInfo, rt *route, res *resource) bool {
	if res.Scope == "" {
		return true
	}
	return strings.EqualFold(portal.ContextTenant(rt.api.Context), portal.TenantOrSuper(info.Tenant)) && slices.Contains(info.Scopes, res.Scope)
}

// backendURL is the endpoint joined with rest, the part of in's path
// after the API's context and version (prefixSegments segments), and in's
// query. The backend gets exactly the path that was matched: rest as the
// caller encoded it (a canonical path has no encoded slash, dot or
// percent, so decoding it once gives rest), else Go's encoding of rest.
func backendURL(endpoint, in *url.URL, rest string, prefixSegments int) url.URL {
	u := *endpoint
	u.Path = strings.TrimSuffix(endpoint.Path, "/") + rest
	u.RawPath = ""
	raw := afterSegments(in.EscapedPath(), prefixSegments)
	if decoded, err := url.PathUnescape(raw); err == nil && decoded == rest {
		u.RawPath = strings.TrimSuffix(endpoint.EscapedPath(), "/") + raw
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawQuery = in.RawQuery
	return u
}

// bearerToken reads RFC 6750 §2.1's Authorization: Bearer header. The
// scheme is case-insensitive (RFC 7235 §2.1). As for Basic at /token, and
// as WSO2's gateway does, the token ends at a comma or space: the WSO2 docs
// run headers together ("Bearer TOKEN, Content-Type: …"), and a token
// (RFC 6750 b64token) never holds either.
func bearerToken(r *http.Request) (string, bool) {
	return schemeToken(r, "Bearer ")
}

// schemeToken reads the token of an Authorization header of the scheme
// (with its trailing space), as bearerToken does.
func schemeToken(r *http.Request, scheme string) (string, bool) {
	v := r.Header.Get("Authorization")
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	token := strings.TrimSpace(v[len(scheme):])
	if end := strings.IndexAny(token, ", \t"); end >= 0 {
		token = token[:end]
	}
	return token, token != ""
}

// retryAfter is a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(secs, 1), 10)
}

// statusRecorder remembers the status written, for the usage record, and
// cleans the backend's 1xx informational answers (103 Early Hints), which
// ReverseProxy writes straight through, without ModifyResponse.
type statusRecorder struct {
	http.ResponseWriter
	status    int
	fault     int // the WSO2 fault code of the refusal written, if one was
	responses *responseFilter
	dpop      bool // the call's token is DPoP-bound: refusals challenge with DPoP
}

// WriteHeader remembers the status and writes it.
func (s *statusRecorder) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols && s.responses != nil {
		s.responses.clean(s.Header())
	}
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush through the recorder,
// which ReverseProxy needs to stream.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hijack takes over the connection for a protocol upgrade: ReverseProxy
// then writes the backend's 101 on the connection itself, never through
// WriteHeader, so the recorder notes it here.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil {
		s.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}
