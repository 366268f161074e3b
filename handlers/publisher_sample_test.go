package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/apistore/apistore/portal"
)

// TestPublisherLabelsTheSampleBackend: the sample API's endpoint names a
// host no DNS knows, which apistore serves itself; the Publisher says so
// rather than show an address that looks broken.
func TestPublisherLabelsTheSampleBackend(t *testing.T) {
	env := newStore(t)
	if err := env.db.PointSampleAPI(context.Background(), portal.SampleEndpoint); err != nil {
		t.Fatal(err)
	}
	b := env.publisher("pub", "publisher")
	p := b.get("/store/publisher")
	row := p.body[strings.Index(p.body, `data-testid="publisher-/pizzashack-1.0.0"`):]
	row = row[:strings.Index(row, "</tr>")]
	if strings.Count(row, "built-in sample backend") != 2 || !strings.Contains(row, portal.SampleEndpoint) {
		t.Errorf("the sample API's row does not label its endpoints: %s", row)
	}
	api, err := env.db.APIByContext(context.Background(), "/pizzashack", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	p = b.get("/store/publisher/" + itoa(api.ID) + "/edit")
	if p.status != http.StatusOK {
		t.Fatalf("edit: %d", p.status)
	}
	mustContain(t, p.body, "is the built-in sample backend (PizzaShack), which apistore serves itself on every node.")
	// Another API's endpoints are not labelled.
	mustNotContain(t, b.get("/store/publisher/new").body, "built-in sample backend")
}
