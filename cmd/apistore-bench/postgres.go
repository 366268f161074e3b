package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresServer is the PostgreSQL server of the comparison: a throw-away
// one the tool started (--database auto, through scripts/postgres.sh) or
// the one a URL names. The benchmark gets a fresh database of its own on
// it, dropped at the end, so a run never meets another run's rows.
type postgresServer struct {
	admin  string // URL of a user that may create databases
	dir    string // the throw-away server's directory; "" for a server named by URL
	script string
	name   string // the benchmark's database
	url    string // admin with the database replaced by name
	// postmaster is the server's parent process, whose tree's CPU time is
	// PostgreSQL's; 0 when the server runs on another machine.
	postmaster int
	// conns are the baselines' connections: worker i uses conns[i].
	conns []*pgx.Conn
	// hashes are the rows the SELECT baseline reads.
	hashes [][]byte
}

// pgTimeout bounds each administrative step (connecting, creating or
// dropping the database).
const pgTimeout = 60 * time.Second

// startPostgres starts a throw-away server for --database auto, or takes
// the server of the URL given, and makes the benchmark's database there.
func startPostgres(ctx context.Context, o *options, tmp string) (*postgresServer, error) {
	p := &postgresServer{admin: o.database, script: o.postgresScript}
	if o.database == "auto" {
		// Under /tmp, as scripts/postgres.sh run does: the postgres user
		// must reach it, and the socket's path must stay short.
		dir, err := os.MkdirTemp("/tmp", "apistore-bench-pg.")
		if err != nil {
			return nil, err
		}
		p.dir = dir
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "bash", p.script, "start", dir)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			p.close()
			return nil, fmt.Errorf("%s start: %w\n%s", p.script, err, stderr.String())
		}
		p.admin = strings.TrimSpace(stdout.String())
	}
	if err := p.createDatabase(ctx); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// createDatabase makes a database named apistore_bench_ and 64 random bits.
func (p *postgresServer) createDatabase(ctx context.Context) error {
	u, err := url.Parse(p.admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("--database: give auto or a postgres:// URL")
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "apistore_bench_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.admin)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(p.admin), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create the benchmark's database (the URL's user must be allowed to): %w", err)
	}
	p.name = name
	u.Path = "/" + name
	p.url = u.String()
	return nil
}

// redact hides a URL's password in messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the --database URL"
	}
	return u.Redacted()
}

// findServer finds the postmaster, when the server runs on this machine:
// the parent of the backend serving a connection.
func (p *postgresServer) findServer(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return err
	}
	st, err := readStat(backend)
	if err != nil {
		return nil // another machine's process: its CPU time is not known here
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", st.ppid)); strings.HasPrefix(string(comm), "postgres") {
		p.postmaster = st.ppid
	}
	return nil
}

// close drops the benchmark's database and stops a throw-away server.
func (p *postgresServer) close() {
	for _, c := range p.conns {
		c.Close(context.Background())
	}
	if p.name != "" {
		ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
		if conn, err := pgx.Connect(ctx, p.admin); err == nil {
			if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{p.name}.Sanitize()+" WITH (FORCE)"); err != nil {
				fmt.Fprintf(os.Stderr, "apistore-bench: drop database %s: %v\n", p.name, err)
			}
			conn.Close(ctx)
		}
		cancel()
	}
	if p.dir != "" {
		if out, err := exec.Command("bash", p.script, "stop", p.dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "apistore-bench: %s stop %s: %v\n%s", p.script, p.dir, err, out)
		}
	}
}

// baselineRows is how many rows the SELECT baseline reads from.
const baselineRows = 100_000

// The baselines' table has the columns and indexes of apistore's tokens
// table (db/postgres/migrations 0001 and 0003), without its foreign keys.
const baselineSchema = `CREATE TABLE baseline_tokens (
	id                 BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	access_hash        BYTEA   NOT NULL UNIQUE,
	refresh_hash       BYTEA   UNIQUE,
	family_id          BYTEA   NOT NULL,
	key_id             BIGINT  NOT NULL,
	user_id            BIGINT  NOT NULL,
	scopes             TEXT COLLATE "C" NOT NULL,
	grant_type         TEXT COLLATE "C" NOT NULL,
	issued_at          BIGINT  NOT NULL,
	expires_at         BIGINT,
	refresh_expires_at BIGINT,
	revoked            BOOLEAN NOT NULL DEFAULT false,
	refresh_used       BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX baseline_tokens_family ON baseline_tokens (family_id) WHERE family_id <> access_hash;
CREATE INDEX baseline_tokens_key ON baseline_tokens (key_id, id);
CREATE INDEX baseline_tokens_user ON baseline_tokens (user_id)`

// connections opens the baselines' table on first use, and connections
// until there are n.
func (p *postgresServer) connections(ctx context.Context, n int) error {
	for len(p.conns) < n {
		c, err := pgx.Connect(ctx, p.url)
		if err != nil {
			return err
		}
		p.conns = append(p.conns, c)
		if len(p.conns) == 1 {
			if err := p.createBaseline(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// createBaseline makes the table and fills it with the SELECT baseline's rows.
func (p *postgresServer) createBaseline(ctx context.Context, c *pgx.Conn) error {
	if _, err := c.Exec(ctx, baselineSchema); err != nil {
		return fmt.Errorf("baseline table: %w", err)
	}
	now := time.Now()
	rows := make([][]any, baselineRows)
	p.hashes = make([][]byte, baselineRows)
	for i := range rows {
		h := randomHash()
		p.hashes[i] = h
		rows[i] = []any{h, h, int64(1), int64(1), "read", "client_credentials", now.UnixMilli(), now.Add(time.Hour).UnixMilli()}
	}
	_, err := c.CopyFrom(ctx, pgx.Identifier{"baseline_tokens"},
		[]string{"access_hash", "family_id", "key_id", "user_id", "scopes", "grant_type", "issued_at", "expires_at"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("baseline rows: %w", err)
	}
	_, err = c.Exec(ctx, "ANALYZE baseline_tokens")
	return err
}

func randomHash() []byte {
	h := make([]byte, 32)
	rand.Read(h)
	return h
}

// baselinePaths measure PostgreSQL itself, with pgx, at the connection
// counts of the other runs: what one statement per request costs.
var baselinePaths = []path{
	{name: "pg_insert_baseline", prepare: func(ctx context.Context, r *runSpec) (call, error) {
		// A client_credentials token's row, in autocommit: one INSERT, one
		// commit (and its WAL flush) per request, as /token needs.
		p := r.e.pg
		if err := p.connections(ctx, r.conns); err != nil {
			return nil, err
		}
		return func(ctx context.Context, w int, _ *http.Client) error {
			h := randomHash()
			now := time.Now()
			_, err := p.conns[w].Exec(ctx, `INSERT INTO baseline_tokens (access_hash, family_id, key_id, user_id, scopes,
				grant_type, issued_at, expires_at) VALUES ($1, $1, 1, 1, 'read', 'client_credentials', $2, $3)`,
				h, now.UnixMilli(), now.Add(time.Hour).UnixMilli())
			return err
		}, nil
	}},
	{name: "pg_select_baseline", prepare: func(ctx context.Context, r *runSpec) (call, error) {
		// A random existing row by its access_hash, the unique key a token
		// is validated by (a primary key lookup by another name: one
		// B-tree descent and one heap fetch).
		p := r.e.pg
		if err := p.connections(ctx, r.conns); err != nil {
			return nil, err
		}
		return func(ctx context.Context, w int, _ *http.Client) error {
			var t struct {
				id, keyID, userID, issued int64
				access, refresh, family   []byte
				scopes, grant             string
				expires, refreshExpires   *int64
				revoked, used             bool
			}
			return p.conns[w].QueryRow(ctx, `SELECT id, access_hash, refresh_hash, family_id, key_id, user_id, scopes,
				grant_type, issued_at, expires_at, refresh_expires_at, revoked, refresh_used
				FROM baseline_tokens WHERE access_hash = $1`, p.hashes[mrand.IntN(len(p.hashes))]).Scan(
				&t.id, &t.access, &t.refresh, &t.family, &t.keyID, &t.userID, &t.scopes, &t.grant, &t.issued,
				&t.expires, &t.refreshExpires, &t.revoked, &t.used)
		}, nil
	}},
}

// postgresSuite runs each store path on SQLite and on PostgreSQL with each
// node count, then the two baselines, at each connection count and round:
// reference and subject side by side, on the machine as it is at that
// moment. The built-in client drives every run, spreading its connections
// over the nodes.
func (e *env) postgresSuite(ctx context.Context) ([]result, error) {
	var out []result
	for _, conns := range e.o.conns {
		for round := 1; round <= e.o.rounds; round++ {
			for _, name := range e.o.pgPaths {
				p, _ := pathByName(name)
				specs := []*runSpec{{d: e.sqlite, nodes: 1}}
				for _, n := range e.o.nodes {
					specs = append(specs, &runSpec{d: e.pgStore, nodes: n})
				}
				for _, rs := range specs {
					rs.e, rs.conns, rs.dur, rs.round = e, conns, e.o.duration, round
					r, err := e.run(ctx, p, rs, "")
					if err != nil {
						return out, fmt.Errorf("prepare %s on %s: %w", name, rs.d.name, err)
					}
					if rs.d == e.sqlite {
						r.cpu.postgres = -1 // the PostgreSQL nodes were idle
					}
					out = append(out, r)
					if ctx.Err() != nil {
						return out, ctx.Err()
					}
				}
			}
			for _, p := range baselinePaths {
				r, err := e.run(ctx, p, &runSpec{e: e, conns: conns, dur: e.o.duration, round: round}, "")
				if err != nil {
					return out, fmt.Errorf("prepare %s: %w", p.name, err)
				}
				r.store = "pgx"
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// printPostgres writes the runs of postgresSuite and their ratios.
func printPostgres(w io.Writer, results []result) {
	fmt.Fprint(w, "### PostgreSQL beside SQLite\n\n"+
		"| path | store | nodes | conns | round | req/s | p50 | p99 | errors | apistore CPU/req | PostgreSQL CPU/req |\n"+
		"| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		nodes := "–"
		if r.nodes > 0 {
			nodes = fmt.Sprint(r.nodes)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %.0f | %s | %s | %d | %s | %s |\n", r.path, r.store, nodes, r.conns, r.round,
			r.rate(), r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.errors,
			perRequest(r.cpu.apistore, r.requests), perRequest(r.cpu.postgres, r.requests))
	}
	find := func(path, store string, nodes, conns, round int) (result, bool) {
		i := slices.IndexFunc(results, func(r result) bool {
			return r.path == path && r.store == store && r.nodes == nodes && r.conns == conns && r.round == round
		})
		if i < 0 || results[i].rate() == 0 {
			return result{}, false
		}
		return results[i], true
	}
	ratio := func(a result, okA bool, b result, okB bool) string {
		if !okA || !okB {
			return "–"
		}
		return fmt.Sprintf("%.2f", a.rate()/b.rate())
	}
	fmt.Fprint(w, "\nThroughput ratios, each from runs of the same round and connection count (PostgreSQL with 1 node unless said):\n\n"+
		"| path | conns | round | PostgreSQL ÷ SQLite | 2 nodes ÷ 1 node | ÷ INSERT baseline | ÷ SELECT baseline |\n"+
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	var lines []string
	for _, r := range results {
		if r.store != "PostgreSQL" || r.nodes != 1 {
			continue
		}
		lite, okLite := find(r.path, "SQLite", 1, r.conns, r.round)
		two, okTwo := find(r.path, "PostgreSQL", 2, r.conns, r.round)
		ins, okIns := find("pg_insert_baseline", "pgx", 0, r.conns, r.round)
		sel, okSel := find("pg_select_baseline", "pgx", 0, r.conns, r.round)
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s |\n", r.path, r.conns, r.round,
			ratio(r, true, lite, okLite), ratio(two, okTwo, r, true), ratio(r, true, ins, okIns), ratio(r, true, sel, okSel))
		switch r.path {
		case "token_client_credentials":
			lines = append(lines, fmt.Sprintf("client_credentials on PostgreSQL at %d connections (round %d): %s× the INSERT baseline (target ≥ 0.7)",
				r.conns, r.round, ratio(r, true, ins, okIns)))
		case "gateway_validation":
			lines = append(lines, fmt.Sprintf("gateway_validation on PostgreSQL at %d connections (round %d): %s× SQLite's (target ≥ 0.8)",
				r.conns, r.round, ratio(r, true, lite, okLite)))
		}
	}
	fmt.Fprintln(w)
	for _, l := range lines {
		fmt.Fprintln(w, l+".")
	}
	printErrors(w, results)
	fmt.Fprintln(w)
}
