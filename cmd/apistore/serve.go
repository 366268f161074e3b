package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/metrics"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/userstore"
	"github.com/apistore/apistore/web"
)

// serveGCPercent is the garbage collector's GOGC while serving, unless the
// GOGC environment variable says otherwise. The live heap is a few MB, so
// Go's default of 100 collected every 100–250 ms under gateway load, each
// time stopping the world briefly and taxing the calls in flight; at 400
// it collects a fourth as often, for a heap about 20 MB larger.
const serveGCPercent = 400

// tuneGC sets serveGCPercent, unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}

// serve runs the server until ctx is done (SIGINT or SIGTERM) or the store
// fails (db.Store.Failed).
func serve(ctx context.Context, args []string, s stdio) (err error) {
	fs := newFlags("serve", "Runs the store (HTTPS), the token endpoint and the gateway (HTTPS and HTTP).", s)
	var cfg web.Config
	store := addStoreFlags(fs)
	fs.StringVar(&cfg.Bind, "bind", "localhost", "address to listen on: loopback by default; :: or 0.0.0.0 for every interface")
	fs.IntVar(&cfg.StorePort, "store-port", 9443, "HTTPS port of the store (0: any free port)")
	fs.IntVar(&cfg.HTTPSPort, "https-port", 8243, "HTTPS port of /token and the gateway (0: any free port)")
	fs.IntVar(&cfg.HTTPPort, "http-port", 8280, "HTTP port of /token and the gateway (0: any free port)")
	fs.IntVar(&cfg.PortOffset, "port-offset", 0, "added to every port, as WSO2's port offset")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate file (default: a self-signed one made in the data directory)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key file for --tls-cert")
	fs.BoolVar(&cfg.ClientCertificates, "mtls", true, "ask clients of the HTTPS port of /token and the gateway for a TLS client certificate, without requiring one (RFC 8705: certificate client authentication and certificate-bound tokens); the store's port never asks")
	clientCA := fs.String("client-ca", "", "PEM file of the certificate authorities whose certificates authenticate tls_client_auth clients (RFC 8705 §2.1); empty: only self_signed_tls_client_auth")
	addListenFlags(fs, &cfg)
	fs.BoolFunc("fast-lane", "serve the gateway ports' plain API calls (GET in HTTP/1.1, no body, no upgrade) with apistore's own HTTP/1.1 lane, everything else with net/http (default true; false: net/http alone)",
		func(v string) error {
			on, err := strconv.ParseBool(v)
			cfg.NetHTTPOnly = !on
			return err
		})
	appV := fs.Int("app-token-validity", 3600, "seconds an application (client_credentials) token lives; negative: never expires")
	userV := fs.Int("user-token-validity", 3600, "seconds a user access token lives; negative: never expires")
	refreshV := fs.Int("refresh-token-validity", 86400, "seconds a refresh token lives; negative: never expires")
	codeV := fs.Int("code-validity", 300, "seconds an authorization code lives")
	selfSignup := fs.Bool("self-signup", true, "let visitors create accounts on the store's Sign up page")
	cleanup := fs.Duration("cleanup-interval", 10*time.Minute, "how often expired and revoked tokens are deleted")
	auditRetention := fs.Duration("audit-retention", 365*24*time.Hour, "how long audit trail events are kept")
	refreshGrace := fs.Duration("refresh-grace", oauth.DefaultRefreshGrace, "how long the same client may present a refresh token again after its first use and get the same answer (a retry after a lost response, concurrent refreshes); 0: off, every second use revokes the chain")
	strict := fs.Bool("strict", false, "follow the OAuth 2.0 Security BCP (RFC 9700) over WSO2 compatibility: no password or implicit grant, PKCE S256 required (see SECURITY.md)")
	dpopNonce := fs.Bool("dpop-nonce", false, "require DPoP proofs to carry a nonce the server gave in a DPoP-Nonce header (RFC 9449 §8): proofs signed in advance are refused")
	logFormat := fs.String("log-format", "text", "log lines as text (key=value) or json")
	gwFlags := addGatewayFlags(fs)
	mail := addMailFlags(fs)
	resetValidity := fs.Duration("password-reset-validity", handlers.DefaultResetValidity, "how long a password reset link mailed by the store works (1m to 168h)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "localhost:9464", "host:port of the Prometheus /metrics listener, plain HTTP apart from the public ports (loopback by default; --port-offset is added to its port; empty: no metrics)")
	userstoreSync := fs.Duration("userstore-sync", time.Minute, "how often the LDAP user stores are read again and asked about their users' accounts: one a store no longer has is disabled, its tokens revoked")
	userstoreTimeout := fs.Duration("userstore-timeout", userstore.DefaultTimeout, "time-out of each LDAP connection and operation")
	partitioning := fs.String("token-partitioning", "", "keep the tokens of the users of some user-store domains in tables of their own: DOMAIN:NAME pairs (CORP:A,PARTNERS:B puts CORP's in tokens_a); at start the tokens move to their tables, and back when a domain is left out; on PostgreSQL the nodes share the database's: a node giving another value while other nodes run is refused")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	partitions, err := oauth.ParsePartitioning(*partitioning)
	if err != nil {
		return usageError("--token-partitioning: " + err.Error())
	}
	if *userstoreSync <= 0 || *userstoreTimeout <= 0 {
		return errors.New("--userstore-sync and --userstore-timeout must be positive")
	}
	if err := setLogger(*logFormat, s.err); err != nil {
		return err
	}
	ignoreHangup(ctx)
	tuneGC()
	validity, err := validityFlags(*appV, *userV, *refreshV, *codeV)
	if err != nil {
		return err
	}
	if *refreshGrace < 0 || *refreshGrace > 10*time.Minute {
		return fmt.Errorf("--refresh-grace %v: give 0 (off) to 10m", *refreshGrace)
	}
	if *cleanup <= 0 || *auditRetention <= 0 {
		return errors.New("--cleanup-interval and --audit-retention must be positive")
	}
	gwConfig, err := gwFlags.config()
	if err != nil {
		return err
	}
	m, err := mail.mailer()
	if err != nil {
		return err
	}
	if *resetValidity < time.Minute || *resetValidity > 7*24*time.Hour {
		return fmt.Errorf("--password-reset-validity %v: give 1m to 168h", *resetValidity)
	}
	if err := checkPorts(cfg); err != nil {
		return err
	}
	if err := checkListenFlags(cfg); err != nil {
		return err
	}
	cas, err := loadClientCAs(*clientCA)
	if err != nil {
		return err
	}
	if cas != nil && !cfg.ClientCertificates {
		return errors.New("--client-ca needs --mtls: without it no client presents a certificate")
	}
	warnDerivedURLs(cfg)
	gwConfig.TrustedProxies, gwConfig.BodyTimeout = cfg.TrustedProxies, cfg.BodyTimeout
	gwConfig.BaseURL = handlers.BaseURL
	var opts []handlers.Option
	if cfg.MetricsAddr != "" {
		cfg.Metrics = metrics.New()
		gwConfig.Observe, gwConfig.ObserveWrite = cfg.Metrics.GatewayCall, cfg.Metrics.UsageWritten
		opts = append(opts, handlers.WithTokenObserver(cfg.Metrics.TokenIssued))
	}
	cfg.DataDir = *store.dataDir
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.SeedSample(ctx); err != nil {
		return err
	}
	if err := d.PartitionTokens(ctx, partitions); err != nil {
		return err
	}
	// A store that fails (a PostgreSQL node whose token partitioning
	// another node changed) stops the server as SIGTERM does, and its
	// error is serve's, whatever else failed on the way out.
	ctx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	failure := make(chan error, 1)
	go func() {
		select {
		case err := <-d.Failed():
			failure <- err
			stopServing()
		case <-ctx.Done():
		}
	}()
	defer func() {
		select {
		case ferr := <-failure:
			err = ferr
		default:
		}
	}()
	srv := oauth.NewServer(d, validity, nil)
	srv.SetTokenPartitioning(partitions, func(username string) string { return userstore.ParseUsername(username).Domain })
	if *strict {
		srv.Strict()
	}
	srv.RefreshGrace(*refreshGrace)
	signingKeys := oauth.NewKeys(d, nil)
	if err := signingKeys.Load(ctx); err != nil {
		return err
	}
	srv.UseJWT(signingKeys, jwtIssuer(cfg), func(ctx context.Context, id int64) (*oauth.User, error) {
		u, err := d.UserByID(ctx, id)
		if err != nil {
			return nil, err
		}
		return &u.User, nil
	})
	if cfg.ClientCertificates {
		srv.MutualTLS(cas)
	}
	go cleanTokens(ctx, d, *cleanup, *auditRetention)
	dir, err := startDirectory(ctx, d, *userstoreSync, *userstoreTimeout)
	if err != nil {
		return err
	}
	defer dir.Close()
	srv.SetDirectory(dir)
	opts = append(opts, handlers.WithDirectory(dir))
	gw, stopGateway, err := startGateway(ctx, gwConfig, srv, d)
	if err != nil {
		return err
	}
	defer stopGateway()
	cfg.Gateway = gw
	if cfg.Metrics != nil {
		cfg.Metrics.WatchUsageQueue(gw.QueuedUsage)
		cfg.Metrics.WatchCache(func() []db.CacheCount { return db.CacheCounts(d) })
	}
	if db.IsPostgres(*store.database) {
		fmt.Fprintf(s.out, "apistore: database %s; TLS files in %s\n", d.Location(), cfg.DataDir)
	} else {
		fmt.Fprintf(s.out, "apistore: data in %s\n", cfg.DataDir)
	}
	hashKey, blockKey, err := web.SessionKeys(ctx, d, cfg.DataDir)
	if err != nil {
		return err
	}
	if *dpopNonce {
		// The nodes share the session keys, so each accepts the others' nonces.
		srv.RequireDPoPNonce(hashKey)
	}
	opts = append(opts, handlers.WithSessionKeys(hashKey, blockKey), handlers.WithSelfSignup(*selfSignup),
		handlers.WithPasswordResetValidity(*resetValidity))
	if m != nil {
		opts = append(opts, handlers.WithMailer(m))
		fmt.Fprintf(s.out, "apistore: mail through %s\n", m.Server())
	}
	h := handlers.New(srv, d, opts...)
	if err := web.New(cfg, h).Run(ctx, s.out); err != nil {
		return err // it failed to start, or stopped on this error
	}
	select {
	case ferr := <-failure: // sent before it stopped the server
		return ferr
	default:
	}
	fmt.Fprintln(s.out, "apistore: stopped")
	return nil
}

// ignoreHangup keeps SIGHUP from killing the server: by default it ends a
// Go program at once, without the graceful shutdown SIGTERM gets, and it is
// what a closed terminal or a "reload" by habit sends. apistore has nothing
// to reload (its settings are flags), so it says so and keeps serving.
func ignoreHangup(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				slog.Warn("SIGHUP ignored: apistore has no configuration to reload; SIGTERM stops it")
			}
		}
	}()
}

// checkPorts refuses, before anything is opened or made, a port that cannot
// be listened on: each one, with the offset added unless it is 0 (any free
// port), must be 1 to 65535.
func checkPorts(cfg web.Config) error {
	for _, p := range []struct {
		flag string
		port int
	}{{"store-port", cfg.StorePort}, {"https-port", cfg.HTTPSPort}, {"http-port", cfg.HTTPPort}} {
		switch {
		case p.port < 0 || p.port > 65535:
			return fmt.Errorf("--%s %d is not a port (0 to 65535)", p.flag, p.port)
		case p.port != 0 && (cfg.PortOffset < 1-p.port || cfg.PortOffset > 65535-p.port):
			return fmt.Errorf("--port-offset %d takes --%s %d outside 1 to 65535", cfg.PortOffset, p.flag, p.port)
		}
	}
	return nil
}

// setLogger sends slog's structured lines to w, as key=value text or JSON.
func setLogger(format string, w io.Writer) error {
	switch format {
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(w, nil)))
	case "json":
		slog.SetDefault(slog.New(slog.NewJSONHandler(w, nil)))
	default:
		return fmt.Errorf("--log-format must be text or json, not %q", format)
	}
	return nil
}

// maxSeconds is the longest validity a time.Duration can hold.
const maxSeconds = int(math.MaxInt64 / int64(time.Second))

// validityFlags turns the validity settings (seconds) into oauth.Validity.
func validityFlags(app, user, refresh, code int) (oauth.Validity, error) {
	for _, f := range []struct {
		name string
		v    int
	}{{"app-token-validity", app}, {"user-token-validity", user}, {"refresh-token-validity", refresh}, {"code-validity", code}} {
		if f.v == 0 && f.name != "code-validity" {
			return oauth.Validity{}, fmt.Errorf("--%s must not be 0 (a negative value means never expires)", f.name)
		}
		// A time.Duration holds some 292 years; more would wrap around.
		if f.v > maxSeconds || f.v < -maxSeconds {
			return oauth.Validity{}, fmt.Errorf("--%s %d is more than %d seconds", f.name, f.v, maxSeconds)
		}
		if f.v < 0 {
			slog.Warn("tokens of this kind never expire: a leaked one works until it is revoked", "flag", "--"+f.name, "value", f.v)
		}
	}
	if code <= 0 {
		return oauth.Validity{}, errors.New("--code-validity must be positive")
	}
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	return oauth.Validity{AppToken: sec(app), UserToken: sec(user), RefreshToken: sec(refresh), Code: sec(code)}, nil
}

// cleanTokens deletes stale tokens, codes and log-in counters, and audit
// events older than auditRetention, every interval until ctx is done; of
// the nodes sharing a database, one at a time.
func cleanTokens(ctx context.Context, d db.Store, every, auditRetention time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var n int64
			_, err := d.RunAlone(ctx, "cleanup", func(ctx context.Context) error {
				for _, step := range []func() (int64, error){
					func() (int64, error) { return d.DeleteStaleTokens(ctx, now) },
					func() (int64, error) { return d.DeleteStaleKeptAnswers(ctx, now) },
					func() (int64, error) { return d.DeleteStaleCodes(ctx, now) },
					func() (int64, error) { return d.DeleteStaleProofs(ctx, now) },
					func() (int64, error) { return d.DeleteStaleLoginCounts(ctx, now.Add(-handlers.LoginLockout), now) },
					func() (int64, error) { return d.DeleteAuditBefore(ctx, now.Add(-auditRetention)) },
				} {
					k, err := step()
					n += k
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil && ctx.Err() == nil {
				slog.Error("cleanup", "err", err)
			} else if n > 0 {
				slog.Info("cleanup", "deleted", n)
			}
		}
	}
}

// jwtIssuer is the iss of JWTs signed outside a token request (backend
// JWTs, the store's application tokens): the public URL, else the HTTPS
// listener's, as the discovery document there names it.
func jwtIssuer(cfg web.Config) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	port := cfg.HTTPSPort
	if port != 0 {
		port += cfg.PortOffset
	}
	return "https://localhost:" + strconv.Itoa(port)
}
