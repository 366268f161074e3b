package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/pizzashack"
	"github.com/apistore/apistore/portal"
)

// gatewayFlags are serve's settings of the gateway.
type gatewayFlags struct {
	gold, silver, bronze int
	connectTimeout       time.Duration
	backendTimeout       time.Duration
	usageRetention       time.Duration
	dropHeaders          headerList
	passMethodOverride   bool
}

// headerList is a comma-separated list of header names, printed as it is
// read, so that --help shows the default list.
type headerList []string

// String is the list as the flag takes it.
func (l *headerList) String() string { return strings.Join(*l, ",") }

// Set reads the list; "" or "none" is a list of none (an empty
// environment variable counts as unset, so it needs the word).
func (l *headerList) Set(v string) error {
	names := []string{}
	if strings.EqualFold(strings.TrimSpace(v), "none") {
		*l = names
		return nil
	}
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !isHeaderName(item) {
			return fmt.Errorf("%q is not a header name", item)
		}
		names = append(names, textproto.CanonicalMIMEHeaderKey(item))
	}
	*l = names
	return nil
}

// isHeaderName reports whether s is an RFC 9110 §5.1 field name (a token).
func isHeaderName(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// addGatewayFlags registers the gateway's flags on serve's flag set.
func addGatewayFlags(fs *flag.FlagSet) *gatewayFlags {
	g := &gatewayFlags{}
	fs.IntVar(&g.gold, "tier-gold", gateway.DefaultLimits["Gold"], "requests per minute of a Gold subscription (0: unlimited)")
	fs.IntVar(&g.silver, "tier-silver", gateway.DefaultLimits["Silver"], "requests per minute of a Silver subscription (0: unlimited)")
	fs.IntVar(&g.bronze, "tier-bronze", gateway.DefaultLimits["Bronze"], "requests per minute of a Bronze subscription (0: unlimited)")
	fs.DurationVar(&g.connectTimeout, "backend-connect-timeout", 5*time.Second, "how long the gateway tries to connect to a backend")
	fs.DurationVar(&g.backendTimeout, "backend-timeout", 60*time.Second, "how long the gateway waits for a backend's response headers (then 504), or for more of its body (then the answer is cut off)")
	fs.DurationVar(&g.usageRetention, "usage-retention", 90*24*time.Hour, "how long the gateway's usage records are kept")
	g.dropHeaders = slices.Clone(gateway.DefaultDroppedResponseHeaders)
	fs.Var(&g.dropHeaders, "gateway-drop-response-headers", "comma-separated headers of backends' answers that callers never see, as they name the backend's software or machines (none: pass them all)")
	fs.BoolVar(&g.passMethodOverride, "gateway-pass-method-override", false, "pass X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override and _method on to every API's backend, checking each call as both its own method and the one it names; otherwise a call naming another method than its own is refused, unless its API passes them (Publisher, api import --pass-method-override)")
	return g
}

// config checks the flags and turns them into the gateway's configuration.
func (g *gatewayFlags) config() (gateway.Config, error) {
	if g.gold < 0 || g.silver < 0 || g.bronze < 0 {
		return gateway.Config{}, errors.New("--tier-gold, --tier-silver and --tier-bronze must not be negative")
	}
	if g.connectTimeout <= 0 || g.backendTimeout <= 0 || g.usageRetention <= 0 {
		return gateway.Config{}, errors.New("--backend-connect-timeout, --backend-timeout and --usage-retention must be positive")
	}
	return gateway.Config{
		Limits:         map[string]int{"Gold": g.gold, "Silver": g.silver, "Bronze": g.bronze},
		ConnectTimeout: g.connectTimeout,
		BackendTimeout: g.backendTimeout,
		UsageRetention: g.usageRetention,
		// Never nil, which would mean the default list: empty drops none.
		DropResponseHeaders: append([]string{}, g.dropHeaders...),
		PassMethodOverride:  g.passMethodOverride,
	}, nil
}

// startGateway serves the sample PizzaShack backend on loopback, where the
// gateway sends the sample endpoint's calls (portal.SampleEndpoint: its port
// changes from run to run and node to node, its name does not), points the
// sample API at it when a run before this one gave it its port, and returns
// the gateway, with a function that stops both once the listeners are shut
// down.
func startGateway(ctx context.Context, cfg gateway.Config, o *oauth.Server, d db.Store) (*gateway.Gateway, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("sample backend: %w", err)
	}
	srv := &http.Server{Handler: pizzashack.New().Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("sample backend stopped", "err", err)
		}
	}()
	if err := d.PointSampleAPI(ctx, portal.SampleEndpoint); err != nil {
		srv.Close()
		return nil, nil, err
	}
	cfg.Builtin = map[string]string{portal.SampleEndpointHost: ln.Addr().String()}
	gw := gateway.New(o, d, cfg)
	return gw, func() {
		gw.Close()
		_ = srv.Close()
	}, nil
}
