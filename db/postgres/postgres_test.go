package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/internal/pgtest"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// The tests here are for what only this store has: the migration lock,
// the generation's shared reads, text PostgreSQL refuses, locks held across
// handles (nodes). The behaviour both stores share is db/dbtest's.

// newDatabase returns the URL of a fresh database, or skips the test.
func newDatabase(t *testing.T) string {
	t.Helper()
	if pgtest.AdminURL() == "" {
		t.Skip("APISTORE_TEST_POSTGRES not set: run under scripts/postgres.sh run")
	}
	return pgtest.NewDatabase(t)
}

// open opens a store on url, closed at cleanup.
func open(t *testing.T, url string) *DB {
	t.Helper()
	d, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// raw connects to url without the store, closed at cleanup.
func raw(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// fixture holds a user with an application and its production key.
type fixture struct {
	user *portal.User
	key  *oauth.Client
}

func newFixture(t *testing.T, d *DB) fixture {
	t.Helper()
	u := &portal.User{User: oauth.User{Username: "alice", PasswordHash: "x", Roles: []string{"subscriber"}}}
	if err := d.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return fixtureOf(t, d, u)
}

// fixtureOf gives u an application and returns them with its production key.
func fixtureOf(t *testing.T, d *DB, u *portal.User) fixture {
	t.Helper()
	ctx := context.Background()
	var key *oauth.Client
	app := &portal.Application{OwnerID: u.ID, Name: "App", Tier: "Unlimited"}
	err := d.CreateApplicationWithKeys(ctx, app, func(kt oauth.KeyType) *oauth.Client {
		c := &oauth.Client{ConsumerKey: oauth.NewConsumerKey(), KeyType: kt, GrantTypes: oauth.DefaultGrantTypes,
			SecretHash: oauth.HashOf(oauth.NewSecret())}
		if kt == oauth.Production {
			key = c
		}
		return c
	})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{user: u, key: key}
}

// token stores a token of the fixture's key with a refresh token.
func (f fixture) token(t *testing.T, d *DB, grant string) *oauth.Token {
	t.Helper()
	now := time.Now()
	tok := &oauth.Token{AccessHash: oauth.HashOf(oauth.NewSecret()), RefreshHash: oauth.HashOf(oauth.NewSecret()),
		KeyID: f.key.KeyID, UserID: f.user.ID, Scopes: []string{"default"}, GrantType: grant,
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), RefreshExpiresAt: now.Add(24 * time.Hour)}
	tok.FamilyID = tok.AccessHash
	if err := d.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

func generation(t *testing.T, d *DB) uint64 {
	t.Helper()
	n, err := d.Generation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConcurrentOpensMigrateOnce: nodes starting together on a new
// database all open it, and each migration is applied once, by one of them.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	url := newDatabase(t)
	var mu sync.Mutex
	applied := map[string]int{}
	afterMigration = func(name string) {
		mu.Lock()
		applied[name]++
		mu.Unlock()
	}
	t.Cleanup(func() { afterMigration = nil })

	const nodes = 8
	errs := make(chan error, nodes)
	for range nodes {
		go func() {
			d, err := Open(context.Background(), url)
			if err == nil {
				err = d.Ping(context.Background())
				d.Close()
			}
			errs <- err
		}()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Errorf("open: %v", err)
		}
	}
	names, _ := migrations.ReadDir("migrations")
	if len(applied) != len(names) {
		t.Errorf("%d migrations applied, want %d: %v", len(applied), len(names), applied)
	}
	for name, n := range applied {
		if n != 1 {
			t.Errorf("%s applied %d times", name, n)
		}
	}
	var rows int
	if err := raw(t, url).QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(names) {
		t.Errorf("schema_migrations has %d rows, want %d", rows, len(names))
	}
}

// TestMigrationsMatchSQLite: the same versions and names as SQLite's, so
// that schema_migrations reads alike on both stores.
func TestMigrationsMatchSQLite(t *testing.T) {
	ours, err := migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("../sqlite/migrations")
	if err != nil {
		t.Fatal(err)
	}
	var theirs []string
	for _, e := range entries {
		theirs = append(theirs, e.Name())
	}
	var names []string
	for _, e := range ours {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != strings.Join(theirs, " ") {
		t.Errorf("migrations differ from SQLite's:\n ours:   %v\n sqlite: %v", names, theirs)
	}
}

// TestNewerSchemaRefused: a database a newer apistore has migrated is not
// opened, and is left as it was.
func TestNewerSchemaRefused(t *testing.T) {
	url := newDatabase(t)
	d, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	conn := raw(t, url)
	if _, err := conn.Exec(context.Background(),
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9000, '9000_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	d, err = Open(context.Background(), url)
	if err == nil {
		d.Close()
		t.Fatal("a database of a newer schema was opened")
	}
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "9000_future.sql") {
		t.Errorf("error %q does not say the database is newer, naming its migration", err)
	}
}

// TestPoolConfig: the pool's size and the connections' name, unless the
// URL sets them.
func TestPoolConfig(t *testing.T) {
	for _, c := range []struct {
		url     string
		max     int32
		appName string
	}{
		{"postgres://u@h/db", int32(max(8, 4*runtime.NumCPU())), "apistore"},
		{"postgres://u@h/db?pool_max_conns=3&application_name=node1", 3, "node1"},
	} {
		cfg, err := poolConfig(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MaxConns != c.max || cfg.ConnConfig.RuntimeParams["application_name"] != c.appName {
			t.Errorf("%s: %d connections named %q, want %d named %q", c.url, cfg.MaxConns,
				cfg.ConnConfig.RuntimeParams["application_name"], c.max, c.appName)
		}
		if cfg.ConnConfig.ConnectTimeout != connectTimeout {
			t.Errorf("%s: connect timeout %v", c.url, cfg.ConnConfig.ConnectTimeout)
		}
	}
}

// TestReadCommitted: the store's connections run READ COMMITTED, which
// its statements are written for, whatever the database's default or the
// URL says.
func TestReadCommitted(t *testing.T) {
	url := newDatabase(t)
	admin := raw(t, url)
	var name string
	if err := admin.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(t.Context(), `ALTER DATABASE "`+name+`" SET default_transaction_isolation = 'serializable'`); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{url, url + "&default_transaction_isolation=repeatable%20read"} {
		var level string
		if err := open(t, u).pool.QueryRow(t.Context(), `SHOW transaction_isolation`).Scan(&level); err != nil {
			t.Fatal(err)
		}
		if level != "read committed" {
			t.Errorf("%s: the store's transactions run %s", u, level)
		}
	}
}

func TestLocationHasNoPassword(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db?sslmode=disable":     "postgres://u@h:5432/db?sslmode=disable",
		"postgres://u@h/db?password=secret&sslmode=require": "postgres://u@h/db?sslmode=require",
		"postgresql://h/db": "postgresql://h/db",
	} {
		if got := withoutPassword(in); got != want {
			t.Errorf("withoutPassword(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGenerationFreshAcrossHandles: a change committed through one handle
// (node) is seen by a Generation called afterwards on another, every time,
// while other callers keep that handle's reads busy, so that a read is
// usually in flight, started before the change, when the call arrives.
func TestGenerationFreshAcrossHandles(t *testing.T) {
	url := newDatabase(t)
	writer, reader := open(t, url), open(t, url)
	ctx := context.Background()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := reader.Generation(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	before := generation(t, reader)
	for i := range 1000 {
		if err := writer.PutScope(ctx, "", oauth.Scope{Name: "read", Description: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		got := generation(t, reader)
		if got <= before {
			t.Fatalf("change %d: generation %d after the change, %d before it", i, got, before)
		}
		before = got
	}
}

// TestGenerationSharesReads: callers that arrive while a read is in flight
// wait for the next read, all of them sharing it.
func TestGenerationSharesReads(t *testing.T) {
	d := open(t, newDatabase(t))
	ctx := context.Background()
	generation(t, d) // connects

	release := make(chan struct{})
	var blocked atomic.Bool
	blocked.Store(true)
	d.gen.beforeRead = func() {
		if blocked.Swap(false) {
			<-release
		}
	}
	start := d.gen.reads.Load()
	first := make(chan error, 1)
	go func() { _, err := d.Generation(ctx); first <- err }()
	for d.gen.reads.Load() == start && blocked.Load() { // until the first read is held
		time.Sleep(time.Millisecond)
	}
	const callers = 50
	var arrived sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		arrived.Add(1)
		go func() {
			arrived.Done()
			_, err := d.Generation(ctx)
			errs <- err
		}()
	}
	arrived.Wait()
	time.Sleep(50 * time.Millisecond) // for them to queue behind the held read
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := d.gen.reads.Load() - start; n != 2 {
		t.Errorf("%d reads for 1 caller and %d arriving during its read, want 2", n, callers)
	}

	// Under load: many callers, few reads.
	d.gen.beforeRead = nil
	start = d.gen.reads.Load()
	const goroutines, calls = 64, 50
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if _, err := d.Generation(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	reads := d.gen.reads.Load() - start
	t.Logf("%d calls, %d reads", goroutines*calls, reads)
	if reads > goroutines*calls/4 {
		t.Errorf("%d reads for %d calls: reads are not shared", reads, goroutines*calls)
	}
}

// TestGenerationUnreachable: a server that stops answering, or is gone,
// gives an error, never the last value; a caller's context bounds its wait.
func TestGenerationUnreachable(t *testing.T) {
	url := newDatabase(t)
	p := startProxy(t, url)
	d := open(t, p.url)
	ctx := context.Background()
	generation(t, d)

	p.pause(true) // connections stay open, nothing passes
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if n, err := d.Generation(short); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("server not answering: %d, %v; want the context's deadline", n, err)
	}
	p.stop() // connections cut, nothing listens
	waitCtx, cancel2 := context.WithTimeout(ctx, 2*generationTimeout)
	defer cancel2()
	if n, err := d.Generation(waitCtx); err == nil {
		t.Errorf("server gone: generation %d, no error", n)
	} else if errors.Is(err, context.DeadlineExceeded) && waitCtx.Err() != nil {
		t.Errorf("server gone: no answer before the read's own timeout: %v", err)
	}
}

// TestClosed: calls after Close return errors, not panics.
func TestClosed(t *testing.T) {
	d, err := Open(context.Background(), newDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	generation(t, d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Generation(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Generation after Close: %v", err)
	}
	if err := d.PutScope(ctx, "", oauth.Scope{Name: "read"}); err == nil {
		t.Error("a write after Close succeeded")
	}
	if _, err := d.UserByID(ctx, 1); err == nil || errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("a read after Close: %v", err)
	}
	if err := d.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if ran, err := d.RunAlone(ctx, "job", func(context.Context) error { return nil }); ran || err == nil {
		t.Errorf("RunAlone after Close: ran %v, %v", ran, err)
	}
}

// proxy forwards TCP connections to a PostgreSQL server, and can hold
// their traffic (a server that stopped answering) or cut them (one gone).
type proxy struct {
	url    string
	ln     net.Listener
	paused atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t *testing.T, dbURL string) *proxy {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Host = ln.Addr().String()
	p := &proxy{url: u.String(), ln: ln}
	t.Cleanup(p.stop)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go p.pipe(c, s)
			go p.pipe(s, c)
		}
	}()
	return p
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.paused.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}

func (p *proxy) pause(on bool) { p.paused.Store(on) }

func (p *proxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.paused.Store(false)
}

// TestSearchIndexesOlderAPIs: APIs made before the search index existed
// (migration 0076) are indexed when the store opens.
func TestSearchIndexesOlderAPIs(t *testing.T) {
	url := newDatabase(t)
	d := open(t, url)
	if err := d.SeedSample(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := raw(t, url).Exec(t.Context(), `DELETE FROM api_search`); err != nil {
		t.Fatal(err)
	}
	page, err := open(t, url).SearchAPIs(t.Context(), portal.SearchQuery{Text: "pizza menu"})
	if err != nil || len(page.APIs) != 1 || page.APIs[0].Name != "PizzaShackAPI" {
		t.Errorf("after reopening: %+v, %v", page, err)
	}
}
