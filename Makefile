# apistore: `make test` installs what the tests need (Debian's chromium, wrk,
# nginx, postgresql, slapd and ldap-utils, npm packages) when missing, then
# runs every test.
GO ?= go

.PHONY: all build generate check-generate lint test test-go test-postgres fuzz soak e2e deps bench bench-usage

all: build

build:
	$(GO) build -o bin/apistore ./cmd/apistore

generate:
	$(GO) tool templ generate

# The committed *_templ.go files must match their templates.
check-generate: generate
	@git diff --exit-code -- '*_templ.go' || { echo "generated templ files are out of date: run make generate and commit"; exit 1; }

lint:
	scripts/check-tracked.sh
	$(GO) mod tidy -diff
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

test: deps check-generate lint test-go test-postgres fuzz e2e

# -race, with Go's pointer checks (checkptr, which -race turns on) kept for
# every package but modernc's SQLite: its C translated to Go is a third of
# the CPU of the storage tests under them, and they check the library's
# unsafe code, not ours. The race detector still watches it.
RACE = -race -gcflags=modernc.org/...=-d=checkptr=0

# The LDAP user-store tests start their own slapd (scripts/slapd.sh,
# installed with apt-get when missing); under make test they must run,
# not skip.
test-go:
	APISTORE_TEST_LDAP=require $(GO) test $(RACE) -count=1 ./...

# The packages whose tests touch storage, once more on PostgreSQL: a
# throw-away server (scripts/postgres.sh: installed with apt-get when
# missing, stopped and removed afterwards) and a fresh database per test.
# The PostgreSQL conformance run and the cluster test run only here.
# (db/sqlite's tests are SQLite's alone: test-go runs them.)
#
# -race where the concurrent code differs by store: the PostgreSQL store
# (its shared generation reads, its partition watch, pgx's pool), the
# validation cache in front of either store (./db) and pgtest. The other
# packages' concurrent code is the same on both stores and test-go races
# it on SQLite, so here they run without -race, at a third of the CPU
# (cmd/apistore's tests run the apistore binary, built without -race in
# either pass). Both sets run at once on one server; the stage fails when
# either does.
STORAGE_RACE_PACKAGES = ./db ./db/postgres ./internal/pgtest
STORAGE_PACKAGES = ./oauth ./handlers ./web ./gateway ./cmd/apistore
test-postgres:
	scripts/postgres.sh run env APISTORE_TEST_STORE=postgres APISTORE_TEST_LDAP=require sh -c '\
		$(GO) test $(RACE) -count=1 $(STORAGE_RACE_PACKAGES) & raced=$$!; \
		$(GO) test -count=1 $(STORAGE_PACKAGES); plain=$$?; \
		wait $$raced && [ $$plain -eq 0 ]'

# Every fuzz target runs a few seconds past its committed seeds
# (testdata/fuzz); FUZZTIME=10m make fuzz searches longer. scripts/fuzz.sh
# runs each in a scratch directory with its own fuzz cache, so a failing
# input is reported there and never lands in testdata/fuzz by itself.
FUZZTIME ?= 3s
FUZZ_TARGETS = oauth:FuzzParseBasicAuth oauth:FuzzParseForm oauth:FuzzPKCE oauth:FuzzParseAuthorizeRequest \
	oauth:FuzzRedirectURIMatching oauth:FuzzParseScope oauth:FuzzParseTokenRequest oauth:FuzzParseTokenHintRequest oauth:FuzzCheckProof \
	handlers:FuzzSafeReturn gateway:FuzzTemplateMatch gateway:FuzzRoutesFind gateway:FuzzBearerToken \
	gateway:FuzzCanonicalMatch gateway:FuzzMethodOverride gateway:FuzzSetsOwnCookie gateway:FuzzPlainQuery gateway:FuzzPlainResponse \
	web/lane:FuzzParse

fuzz:
	GO=$(GO) scripts/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

# 64 clients for 30 s of every grant, refresh, revocation, introspection and
# gateway call on the binary (make test runs it for 3 s).
soak:
	$(GO) test -count=1 -run '^TestSoak$$' -v ./cmd/apistore -soak 30s -soak-clients 64

deps:
	scripts/deps.sh

e2e: deps
	npm run e2e

# Go benchmarks of the core and of the store's API search over 10,000 APIs
# on both stores (p50 and p99 per kind of search), then the load tool against the real binary:
# every hot path at 1, 16 and 64 connections, fresh and with 1,000,000
# stored tokens, and the plain GETs again under wrk; the same paths on
# PostgreSQL with one and two nodes beside SQLite and beside pgx baselines,
# on a throw-away server (scripts/postgres.sh installs PostgreSQL when
# missing); the gateway beside nginx on nginx's own backend, in HTTP and
# HTTPS, with and without a /token load alongside, three rounds, then perf
# profiles of the server (in bin/profiles; skipped without perf).
# BENCHMARKS.md reports the figures.
bench: build deps
	$(GO) test -run '^$$' -bench . -benchmem ./oauth ./gateway
	$(GO) test -run '^$$' -bench SearchAPIs -benchtime 200x ./db/sqlite
	scripts/postgres.sh run $(GO) test -run '^$$' -bench SearchAPIs -benchtime 200x ./db/postgres
	$(GO) run ./cmd/apistore-bench --bin bin/apistore --duration 10s --conns 1,16,64 --preload 1000000
	$(GO) run ./cmd/apistore-bench --bin bin/apistore --duration 10s --conns 1,16,64 --wrk wrk --paths gateway,backend_direct,backend_relay
	$(GO) run ./cmd/apistore-bench --bin bin/apistore --duration 10s --conns 1,16,64 --paths none --database auto --nodes 1,2
	$(GO) run ./cmd/apistore-bench --bin bin/apistore --duration 10s --conns 16,64 --paths none --wrk wrk --nginx auto \
		--rounds 3 --token-rate 500 --profile bin/profiles

# The usage pages' reads (BenchmarkUsageDashboards) over USAGE_CALLS calls
# recorded over 30 days through the usage writer's store method, each
# page and range with its p99, on SQLite and then on PostgreSQL (a
# throw-away server). Recording 10,000,000 calls takes most of the time.
USAGE_CALLS ?= 10000000
bench-usage:
	$(GO) test ./db -run '^$$' -bench BenchmarkUsageDashboards -benchtime 200x -timeout 4h -usage-calls $(USAGE_CALLS)
	scripts/postgres.sh run env APISTORE_TEST_STORE=postgres $(GO) test ./db -run '^$$' -bench BenchmarkUsageDashboards \
		-benchtime 200x -timeout 4h -usage-calls $(USAGE_CALLS)
