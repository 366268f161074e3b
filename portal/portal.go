// Package portal holds the store's domain: published APIs and their
// resources, applications with their consumer keys, subscriptions and
// tiers, accounts, consents, usage records and the audit trail. It declares
// the types only; the database packages (db/sqlite, db/postgres) store
// them, and the handlers and the gateway declare what they need of storage.
package portal

import "github.com/apistore/apistore/oauth"

// ErrNotFound and ErrConflict are oauth's sentinels, which every store
// returns (wrapped): a missing row, and a name or pair already taken.
var (
	ErrNotFound = oauth.ErrNotFound
	ErrConflict = oauth.ErrConflict
)
