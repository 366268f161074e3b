package web_test

import (
	"testing"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/web"
)

// TestAPIRoutesAreReserved: every endpoint of the token port is served
// before API contexts, so no API may be published at a context that starts
// like one of them.
func TestAPIRoutesAreReserved(t *testing.T) {
	d := fixture.DB(t)
	o := oauth.NewServer(d, oauth.Validity{}, nil)
	gw := gateway.New(o, d, gateway.Config{})
	defer gw.Close()
	e := web.APIEcho(web.New(web.Config{Gateway: gw}, handlers.New(o, d)))
	for _, r := range e.Routes() {
		if r.Path != "/*" && !gateway.Reserved(r.Path) {
			t.Errorf("route %s %s is not reserved in package gateway: an API context could shadow it", r.Method, r.Path)
		}
	}
}
