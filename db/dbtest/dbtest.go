// Package dbtest is the conformance suite of db.Store: table tests written
// once against the interface, which every store runs, so that SQLite and
// PostgreSQL behave alike. A store's package runs it from one test:
//
//	func TestConformance(t *testing.T) { dbtest.Run(t, open) }
//
// Each test opens fresh stores through the Opener, so tests share nothing.
// A store-specific test (the wal-index, LISTEN/NOTIFY…) stays in the
// store's package. This package is imported only by tests.
package dbtest

import (
	"os"
	"slices"
	"testing"

	"github.com/apistore/apistore/db"
)

// Opener opens a fresh, empty store for t, closed at t's cleanup, and
// returns with it again, which opens another handle on that same database
// as another process or node would (closed at the cleanup of the t it is
// given). Both are what db.Open returns, the validation cache included, so
// that the suite sees the store as the server does.
type Opener func(t *testing.T) (s db.Store, again func(t *testing.T) db.Store)

// Bug names a known defect of a store that one of the suite's tests shows.
// Run skips that test for a store that declares the bug, naming it, unless
// APISTORE_TEST_KNOWN_BUGS is set: the suite stays green while the defect
// is reported, and the declaration goes with the fix.
type Bug string

// The defects found so far; each is shown by the test that names it.
const (
	// BugRunAloneInProcess: RunAlone's lock is held in the memory of one
	// handle, so a second handle (another process or node) runs the same
	// job at once, where db.Store says it must not.
	BugRunAloneInProcess Bug = "RunAlone locks within one handle only"
	// BugASCIICaseFold: "in any case" folds ASCII letters only, so Café and
	// CAFÉ are two names of one owner's applications.
	BugASCIICaseFold Bug = "case-insensitive names fold ASCII letters only"
	// BugUsagePruneStopsAtNewerRow: DeleteUsageBefore walks the rows in the
	// order they were recorded and stops at the first one not before the
	// cut, so an older call recorded after it (a node whose clock lagged, a
	// late batch) stays, and behind a call from the future every row stays.
	BugUsagePruneStopsAtNewerRow Bug = "usage pruning stops at the first newer row"
	// BugCounterKeyNotUTF8: a log-in counter whose key is not UTF-8 is
	// stored under its bytes but read under another key (its invalid bytes
	// replaced), so its failures never count.
	BugCounterKeyNotUTF8 Bug = "a log-in counter key that is not UTF-8 loses its failures"
)

// envKnownBugs runs the tests of declared bugs as well, to see them fail.
const envKnownBugs = "APISTORE_TEST_KNOWN_BUGS"

// suite is one run: how to open stores and the bugs declared.
type suite struct {
	open  Opener
	known []Bug
}

// group is a part of the suite: the tests of one capability.
type group struct {
	name string
	run  func(t *testing.T, s *suite)
}

// groups are the suite's parts, in the order they run.
var groups = []group{
	{"Users", testUsers},
	{"UserStores", testUserStores},
	{"Tenants", testTenants},
	{"Applications", testApplications},
	{"Keys", testKeys},
	{"Scopes", testScopes},
	{"TenantScopes", testTenantScopes},
	{"Tiers", testTiers},
	{"APIs", testAPIs},
	{"Search", testSearch},
	{"Docs", testDocs},
	{"Subscriptions", testSubscriptions},
	{"Tokens", testTokens},
	{"Partitions", testPartitions},
	{"KeptAnswers", testKeptAnswers},
	{"Codes", testCodes},
	{"MutualTLS", testMutualTLS},
	{"DPoP", testDPoP},
	{"Consents", testConsents},
	{"Sessions", testSessions},
	{"SessionKeys", testSessionKeys},
	{"SigningKeys", testSigningKeys},
	{"LoginCounters", testLoginCounters},
	{"Quota", testQuota},
	{"Usage", testUsage},
	{"Rollups", testRollups},
	{"Audit", testAudit},
	{"TenantAdmin", testTenantAdmin},
	{"NotFound", testNotFound},
	{"HostileText", testHostileText},
	{"HostileWrites", testHostileWrites},
	{"Generation", testGeneration},
	{"Cache", testCache},
	{"RunAlone", testRunAlone},
	{"Lifecycle", testLifecycle},
	{"EveryMethod", testEveryMethod},
}

// Run runs the suite on the stores open makes; known lists the defects the
// store is known to have (see Bug).
func Run(t *testing.T, open Opener, known ...Bug) {
	s := &suite{open: open, known: known}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, s) })
	}
}

// store opens a new, empty store for t, for tests that need one handle.
func (s *suite) store(t *testing.T) db.Store {
	t.Helper()
	d, _ := s.open(t)
	return d
}

// bug skips t, which shows bug, when the store declared it.
func (s *suite) bug(t *testing.T, bug Bug) {
	t.Helper()
	if slices.Contains(s.known, bug) && os.Getenv(envKnownBugs) == "" {
		t.Skipf("known bug of this store: %s (set %s=1 to run)", bug, envKnownBugs)
	}
}
