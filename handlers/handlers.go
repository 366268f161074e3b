// Package handlers holds apistore's echo handlers: thin adapters that parse
// and validate a request, call the oauth core or the database, and answer.
package handlers

import (
	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
)

// Handlers serves every endpoint; it is built once by web.New.
type Handlers struct {
	oauth *oauth.Server
	db    *db.DB
}

// New returns handlers over the oauth core and the database.
func New(o *oauth.Server, d *db.DB) *Handlers {
	return &Handlers{oauth: o, db: d}
}
