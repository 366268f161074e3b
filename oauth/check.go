package oauth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// These checks hold the rules shared by the command line and the store's
// forms, so an account, key or scope made one way is valid the other way.

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$`)

// CheckUsername accepts 2 to 64 letters, digits and . _ @ -, not starting
// with punctuation.
func CheckUsername(name string) error {
	if !usernamePattern.MatchString(name) {
		return errors.New("a username has 2 to 64 letters, digits or . _ @ - and starts with a letter or digit")
	}
	return nil
}

// Password length limits: long enough to matter, short enough to hash cheaply.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// CheckPasswordStrength accepts passwords of 8 to 256 characters.
func CheckPasswordStrength(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen || n > MaxPasswordLen {
		return fmt.Errorf("a password has %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

var scopePattern = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]{1,100}$`)

// CheckScopeName accepts RFC 6749 §3.3 scope tokens of up to 100 characters.
func CheckScopeName(name string) error {
	if !scopePattern.MatchString(name) || name == DefaultScope {
		return fmt.Errorf("a scope name is 1 to 100 visible ASCII characters without spaces, quotes or backslashes, and not %q", DefaultScope)
	}
	return nil
}

// CheckGrantTypes accepts a non-empty list of known grant types.
func CheckGrantTypes(grants []string) error {
	if len(grants) == 0 {
		return errors.New("allow at least one grant type")
	}
	for _, g := range grants {
		if !slices.Contains(AllGrantTypes, g) {
			return fmt.Errorf("unknown grant type %q (known: %s)", g, strings.Join(AllGrantTypes, ", "))
		}
	}
	return nil
}

// maxRedirectURI bounds a callback URL's length, in bytes.
const maxRedirectURI = 2000

// CheckRedirectURI accepts an absolute https URL, or an http URL on a
// loopback host (RFC 8252 §7.3), without a fragment (RFC 6749 §3.1.2).
func CheckRedirectURI(raw string) error {
	if len(raw) > maxRedirectURI {
		return fmt.Errorf("the callback URL must be at most %d characters", maxRedirectURI)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil {
		return errors.New("the callback URL must be an absolute URL, e.g. https://app.example.com/callback")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("the callback URL must not have a fragment (#…)")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if host := u.Hostname(); host == "localhost" || isLoopbackIP(host) {
			return nil
		}
		return errors.New("an http callback URL must be on localhost or a loopback address; use https otherwise")
	}
	return errors.New("the callback URL must use https (or http on a loopback address)")
}

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
