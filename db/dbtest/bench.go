package dbtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/portal"
)

// BenchAPIs is how many APIs BenchmarkSearch publishes.
const BenchAPIs = 10_000

// benchWords are the vocabulary of the benchmark's APIs.
var benchWords = strings.Fields(`account address alert analytics archive audit balance bank billing booking
	calendar camera card cart catalog charge chat city claim climate cloud code comment contact content
	contract country coupon credit currency customer data delivery device document domain driver email energy
	event exchange expense file flight forecast fraud fuel game geo gift health hotel identity image insurance
	inventory invoice job journey key language ledger loan location log loyalty map market media member
	message meter metric music news note notification order parcel partner payment payroll people permit
	pharmacy photo place player policy portfolio price product profile quote rate receipt recipe refund
	rental report reservation restaurant review reward risk route sales schedule school search seat sensor
	shipment shop signal sms social stock storage store stream subscription supplier support survey tax
	team ticket timetable token track trade traffic train transfer translation travel trip user vehicle
	video voucher wallet warehouse weather webhook café 東京 天気 straße`)

// benchTags are the tags the benchmark's APIs draw from.
var benchTags = strings.Fields(`finance travel maps weather health retail media social logistics identity
	payments internal partner public beta iot energy education government sports`)

// benchAPI is the i-th API of the benchmark, made of random words.
func benchAPI(r *rand.Rand, i int) *portal.API {
	word := func() string { return benchWords[r.IntN(len(benchWords))] }
	title := func(s string) string { r := []rune(s); return strings.ToUpper(string(r[:1])) + string(r[1:]) }
	a := &portal.API{
		Name:    fmt.Sprintf("%s%sAPI", title(word()), title(word())),
		Context: fmt.Sprintf("/api%05d", i), Version: "v1",
	}
	var desc []string
	for range 8 + r.IntN(16) {
		desc = append(desc, word())
	}
	a.Description = strings.Join(desc, " ") + "."
	for range 1 + r.IntN(3) {
		if t := benchTags[r.IntN(len(benchTags))]; !slices.Contains(a.Tags, t) {
			a.Tags = append(a.Tags, t)
		}
	}
	for j := range 3 + r.IntN(5) {
		a.Resources = append(a.Resources, portal.Resource{Method: "GET", Path: fmt.Sprintf("/%s/%d/{%sId}", word(), j, word())})
	}
	return a
}

// BenchmarkSearch publishes BenchAPIs APIs in a store open makes, lets
// settle (if not nil) do what the database would do on its own after such
// a load (PostgreSQL's autovacuum gathering statistics), then times
// searches of the kinds the store's API list makes, and the list of tags it
// shows beside them (tag_list), each reporting its 50th and 99th percentile
// in milliseconds.
func BenchmarkSearch(b *testing.B, open func(b *testing.B) db.Store, settle func(b *testing.B)) {
	d := open(b)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range BenchAPIs {
		if err := d.CreateAPI(ctx, benchAPI(r, i)); err != nil {
			b.Fatal(err)
		}
	}
	if settle != nil {
		settle(b)
	}
	kinds := []struct {
		name    string
		queries []portal.SearchQuery
	}{
		{"all_by_name", []portal.SearchQuery{{}}},
		{"all_newest", []portal.SearchQuery{{Sort: portal.SortNewest}}},
		{"deep_page", []portal.SearchQuery{{Offset: 5000}}},
		{"one_word", []portal.SearchQuery{{Text: "payment"}, {Text: "weather"}, {Text: "café"}, {Text: "東京"}}},
		{"short_prefix", []portal.SearchQuery{{Text: "p"}, {Text: "tr"}, {Text: "se"}}},
		{"two_words", []portal.SearchQuery{{Text: "flight booking"}, {Text: "tax invoice"}}},
		{"tag", []portal.SearchQuery{{Tags: []string{"finance"}}, {Tags: []string{"maps", "public"}}}},
		{"words_and_tag", []portal.SearchQuery{{Text: "order", Tags: []string{"retail"}, Sort: portal.SortNewest}}},
		{"no_match", []portal.SearchQuery{{Text: "zzzz"}}},
		{"tag_list", nil},
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			var times []time.Duration
			i := 0
			for b.Loop() {
				start := time.Now()
				var err error
				if k.queries == nil {
					_, err = d.PublishedTags(ctx, 0, 30)
				} else {
					_, err = d.SearchAPIs(ctx, k.queries[i%len(k.queries)])
				}
				if err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
				i++
			}
			slices.Sort(times)
			pct := func(p float64) float64 {
				return float64(times[min(len(times)-1, int(float64(len(times))*p))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}
