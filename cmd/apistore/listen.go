package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/apistore/apistore/web"
)

// addListenFlags registers where serve is reached from outside (the public
// URLs that replace the listeners' own in what apistore writes, and the
// proxies whose forwarding headers are believed) and how long and how
// often a client may hold a connection.
func addListenFlags(fs *flag.FlagSet, cfg *web.Config) {
	fs.DurationVar(&cfg.HeaderTimeout, "header-timeout", 10*time.Second, "how long a client may take for the TLS handshake and a request's headers")
	fs.DurationVar(&cfg.BodyTimeout, "body-timeout", 30*time.Second, "how long a client may take to send a form (store, /token, /revoke, /introspect, /authorize), and the longest pause in a request body the gateway forwards; then 408")
	fs.IntVar(&cfg.MaxConnsPerAddress, "max-conns-per-address", 256, "connections one client address (an IPv6 /64) may hold open at once on each port; more are closed at once (0: no limit; --trusted-proxies are not limited)")
	fs.Func("public-url", "base URL clients reach /token, /authorize and the gateway at, e.g. https://api.example.com behind a proxy: the issuer and the discovery document's URLs (default: each listener's own, https://localhost:8243 and http://localhost:8280)",
		func(v string) (err error) { cfg.PublicURL, err = parsePublicURL(v, false); return err })
	fs.Func("store-public-url", "base URL clients reach the store at, e.g. https://portal.example.com (default: the store listener's own, https://localhost:9443); the token port's pages link there",
		func(v string) (err error) { cfg.StorePublicURL, err = parsePublicURL(v, true); return err })
	fs.Func("trusted-proxies", "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For (the client's address) and X-Forwarded-Proto are believed (default: none; the peer is the client)",
		func(v string) (err error) { cfg.TrustedProxies, err = parseTrustedProxies(v); return err })
}

// checkListenFlags refuses timeouts and limits that would make no sense.
func checkListenFlags(cfg web.Config) error {
	if cfg.HeaderTimeout <= 0 || cfg.BodyTimeout <= 0 {
		return errors.New("--header-timeout and --body-timeout must be positive")
	}
	if cfg.MaxConnsPerAddress < 0 {
		return errors.New("--max-conns-per-address must not be negative (0: no limit)")
	}
	return nil
}

// parsePublicURL checks a base URL: http or https (https only for the
// store, whose session cookie is Secure), a host, an optional port, and no
// path, since apistore's routes are at the root. It returns it without a
// trailing slash, as URLs are built on it.
func parsePublicURL(v string, store bool) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Opaque != "":
		return "", errors.New("not a URL; want a base URL such as https://api.example.com")
	case u.Scheme != "https" && (store || u.Scheme != "http"):
		if store {
			return "", errors.New("the store's URL must be https (its session cookie is Secure), e.g. https://portal.example.com")
		}
		return "", errors.New("want an http or https URL such as https://api.example.com")
	case u.Hostname() == "":
		return "", errors.New("no host; want a base URL such as https://api.example.com")
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("want the scheme, host and port alone (apistore serves at the root, not under a path)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port %s is not 1 to 65535", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", errors.New("empty port")
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// parseTrustedProxies reads a comma-separated list of addresses and CIDR
// ranges.
func parseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(item); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		} else {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR range (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)", item)
		}
	}
	return out, nil
}

// warnDerivedURLs says, when the server listens on every interface without
// public URLs, that the URLs it writes name localhost, which other machines
// cannot reach.
func warnDerivedURLs(cfg web.Config) {
	if a, err := netip.ParseAddr(cfg.Bind); err != nil || !a.IsUnspecified() {
		return
	}
	if cfg.PublicURL == "" || cfg.StorePublicURL == "" {
		slog.Warn("listening on every interface without --public-url and --store-public-url: the issuer and the links between the store and the token port name localhost; set them to the URLs clients use",
			"bind", cfg.Bind)
	}
}
