package db

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/apistore/apistore/oauth"
)

// The hot reads — a consumer key at every client authentication, an access
// token at every validation and introspection — are cached per access
// generation (Freshness): an entry is used only while no change that a
// cache could see has been committed since it was read, by any connection,
// process or node. Such a change starts an empty generation, so a revoked
// token, a new secret or a deleted key is never served from the cache; new
// tokens and spent refresh tokens, the bulk of the commits, keep it.
// Callers get copies that share nothing with the cached values.

// maxCached bounds a generation; past it the next lookup starts a new one.
const maxCached = 100_000

// cachedStore is a Store with the cache in front of ClientByKey and
// AccessToken.
type cachedStore struct {
	Store
	gen     atomic.Pointer[cacheGen]
	clients cacheCounter
	tokens  cacheCounter
}

// cacheCounter counts a cache's lookups, for the operators' metrics.
type cacheCounter struct{ hits, misses atomic.Uint64 }

// CacheCount is how often a cache answered a lookup itself (Hits) or read
// the database (Misses).
type CacheCount struct {
	Cache        string // clients (consumer keys) or tokens (access tokens)
	Hits, Misses uint64
}

// CacheCounts are the counts of the caches in front of a store Open
// returned; none for another Store.
func CacheCounts(s Store) []CacheCount {
	c, ok := s.(*cachedStore)
	if !ok {
		return nil
	}
	return []CacheCount{{"clients", c.clients.hits.Load(), c.clients.misses.Load()},
		{"tokens", c.tokens.hits.Load(), c.tokens.misses.Load()}}
}

func withCache(s Store) *cachedStore { return &cachedStore{Store: s} }

type cacheGen struct {
	generation uint64
	size       atomic.Int64
	clients    sync.Map // consumer key → *oauth.Client
	tokens     sync.Map // access hash → *oauth.TokenInfo
}

// current returns the cache of the current generation. The generation is
// read before any query, so a row read afterwards is at least as new as it.
func (c *cachedStore) current(ctx context.Context) (*cacheGen, error) {
	n, err := c.Generation(ctx)
	if err != nil {
		return nil, err
	}
	if g := c.gen.Load(); g != nil && g.generation == n && g.size.Load() < maxCached {
		return g, nil
	}
	g := &cacheGen{generation: n}
	c.gen.Store(g)
	return g, nil
}

// cached looks key up in m of the current generation, or loads it and keeps
// a clone there. A failed load (not found included) is not kept.
func cached[K comparable, V any](ctx context.Context, c *cachedStore, n *cacheCounter, m func(*cacheGen) *sync.Map, key K,
	load func() (*V, error), clone func(*V) *V) (*V, error) {
	g, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	if v, ok := m(g).Load(key); ok {
		n.hits.Add(1)
		return clone(v.(*V)), nil
	}
	n.misses.Add(1)
	v, err := load()
	if err != nil {
		return nil, err
	}
	m(g).Store(key, clone(v))
	g.size.Add(1)
	return v, nil
}

// ClientByKey is the store's, through the cache.
func (c *cachedStore) ClientByKey(ctx context.Context, consumerKey string) (*oauth.Client, error) {
	return cached(ctx, c, &c.clients, func(g *cacheGen) *sync.Map { return &g.clients }, consumerKey,
		func() (*oauth.Client, error) { return c.Store.ClientByKey(ctx, consumerKey) }, (*oauth.Client).Clone)
}

// AccessToken is the store's, through the cache.
func (c *cachedStore) AccessToken(ctx context.Context, h oauth.Hash) (*oauth.TokenInfo, error) {
	return cached(ctx, c, &c.tokens, func(g *cacheGen) *sync.Map { return &g.tokens }, h,
		func() (*oauth.TokenInfo, error) { return c.Store.AccessToken(ctx, h) }, (*oauth.TokenInfo).Clone)
}
