package db

import (
	"context"
	"sync"
	"sync/atomic"
)

// The hot reads — a consumer key at every client authentication, an access
// token at every validation and introspection — are cached per database
// Version: an entry is used only while no change that a cache could see has
// been committed since it was read (by any connection or process: migration
// 0023's triggers count them) and no write of this process ended access.
// Such a change starts an empty generation, so a revoked token, a new secret
// or a deleted key is never served from the cache; new tokens and spent
// refresh tokens, the bulk of the commits, keep it. Callers get copies: the
// cached values are shared.

// maxCached bounds a generation; past it the next lookup starts a new one.
const maxCached = 100_000

type cacheGen struct {
	version Version
	size    atomic.Int64
	clients sync.Map // consumer key → *oauth.Client
	tokens  sync.Map // access hash → *oauth.TokenInfo
}

// generation returns the cache of the current Version. The Version is read
// before any query, so a row read afterwards is at least as new as it.
func (d *DB) generation(ctx context.Context) (*cacheGen, error) {
	v, err := d.Version(ctx)
	if err != nil {
		return nil, err
	}
	if g := d.cache.Load(); g != nil && g.version == v && g.size.Load() < maxCached {
		return g, nil
	}
	g := &cacheGen{version: v}
	d.cache.Store(g)
	return g, nil
}

// cached looks key up in m of the current generation, or loads it and keeps
// it there. A failed load (not found included) is not kept.
func cached[K comparable, V any](ctx context.Context, d *DB, m func(*cacheGen) *sync.Map, key K, load func() (*V, error)) (*V, error) {
	g, err := d.generation(ctx)
	if err != nil {
		return nil, err
	}
	if v, ok := m(g).Load(key); ok {
		cp := *v.(*V)
		return &cp, nil
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	cp := *v
	m(g).Store(key, &cp)
	g.size.Add(1)
	return v, nil
}

func clientsOf(g *cacheGen) *sync.Map { return &g.clients }

func tokensOf(g *cacheGen) *sync.Map { return &g.tokens }
