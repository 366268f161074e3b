// Package mailer sends the store's email (password reset links and notices
// of account changes) through an SMTP server, with go-mail. It knows
// nothing of the store: handlers hand it a recipient, a subject and a
// plain-text body.
package mailer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// The ways to reach an SMTP server, as --smtp-tls names them.
const (
	// StartTLS connects in clear and requires STARTTLS before anything is
	// sent (port 587 by default): a server that does not offer it is an
	// error, never a reason to go on in clear.
	StartTLS = "starttls"
	// ImplicitTLS speaks TLS from the first byte (SMTPS, port 465).
	ImplicitTLS = "tls"
	// NoTLS sends in clear (port 25), for a relay on the same host or
	// network; it cannot carry a password.
	NoTLS = "none"
)

// Config is where and how to send.
type Config struct {
	Server   string // host, or host:port; the port defaults by TLS
	TLS      string // StartTLS (the default when empty), ImplicitTLS or NoTLS
	Username string // SMTP AUTH; empty: none
	Password string
	From     string        // the sender, e.g. "apistore <noreply@example.com>"
	Timeout  time.Duration // for connecting and for each exchange; 0: 30 s
	// RootCAs verify the server's certificate; nil: the system's.
	RootCAs *x509.CertPool
}

// Mailer sends messages as its Config says. It holds no connection: each
// message dials, which suits the few a store sends.
type Mailer struct {
	cfg  Config
	host string
	port int
	from *mail.Address
}

// New checks cfg and returns a Mailer for it; the error says which setting
// is wrong, in the words of its flag.
func New(cfg Config) (*Mailer, error) {
	if cfg.TLS == "" {
		cfg.TLS = StartTLS
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	m := &Mailer{cfg: cfg}
	defaultPort := map[string]int{StartTLS: 587, ImplicitTLS: 465, NoTLS: 25}[cfg.TLS]
	if defaultPort == 0 {
		return nil, fmt.Errorf("--smtp-tls must be %s, %s or %s, not %q", StartTLS, ImplicitTLS, NoTLS, cfg.TLS)
	}
	host, port, err := splitServer(cfg.Server, defaultPort)
	if err != nil {
		return nil, err
	}
	m.host, m.port = host, port
	if cfg.TLS == NoTLS && cfg.Username != "" {
		return nil, errors.New("--smtp-tls none would send the SMTP password in clear: use starttls or tls, or no --smtp-username for a relay that needs none")
	}
	if cfg.Username == "" && cfg.Password != "" {
		return nil, errors.New("--smtp-password without --smtp-username")
	}
	if cfg.From == "" {
		return nil, errors.New("--smtp-from is required with --smtp-server: the address mail comes from, e.g. \"apistore <noreply@example.com>\"")
	}
	if m.from, err = mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("--smtp-from %q is not an email address (e.g. \"apistore <noreply@example.com>\")", cfg.From)
	}
	return m, nil
}

// splitServer reads host or host:port (an IPv6 address in brackets).
func splitServer(server string, defaultPort int) (string, int, error) {
	if server == "" {
		return "", 0, errors.New("--smtp-server is empty")
	}
	bad := fmt.Errorf("--smtp-server %q: give a host name or address, with :PORT if not the default", server)
	host, portText, err := net.SplitHostPort(server)
	if err != nil {
		// No port: a name, an IPv4 address, or an IPv6 one in brackets.
		host, portText = strings.TrimSuffix(strings.TrimPrefix(server, "["), "]"), ""
	}
	if host == "" || strings.ContainsAny(host, " /@:") && net.ParseIP(host) == nil {
		return "", 0, bad
	}
	if portText == "" {
		return host, defaultPort, nil
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, bad
	}
	return host, port, nil
}

// Server names where mail goes and how, for the start-up line.
func (m *Mailer) Server() string {
	how := map[string]string{StartTLS: "STARTTLS", ImplicitTLS: "TLS", NoTLS: "no TLS"}[m.cfg.TLS]
	return fmt.Sprintf("%s (%s)", net.JoinHostPort(m.host, strconv.Itoa(m.port)), how)
}

// Send sends one plain-text message to one address.
func (m *Mailer) Send(ctx context.Context, to, subject, body string) error {
	msg := gomail.NewMsg()
	if err := msg.From(m.from.String()); err != nil {
		return fmt.Errorf("send mail: from: %w", err)
	}
	if err := msg.To(to); err != nil {
		return fmt.Errorf("send mail: to %q: %w", to, err)
	}
	msg.Subject(subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, body)
	opts := []gomail.Option{gomail.WithPort(m.port), gomail.WithTimeout(m.cfg.Timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: m.host, RootCAs: m.cfg.RootCAs, MinVersion: tls.VersionTLS12})}
	switch m.cfg.TLS {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if m.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(m.cfg.Username), gomail.WithPassword(m.cfg.Password))
	}
	c, err := gomail.NewClient(m.host, opts...)
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send mail to %s via %s: %w", to, m.Server(), err)
	}
	return nil
}

// FromURL fills the server, TLS mode and SMTP AUTH of cfg from a URL, as
// --smtp-url gives them in one value: smtp://USER:PASS@HOST:PORT with
// STARTTLS required, smtps://… for TLS from the first byte, and
// smtp://HOST:25?tls=none for a relay in clear. User and password are
// percent-decoded.
func FromURL(cfg Config, raw string) (Config, error) {
	u, err := url.Parse(raw)
	// The URL is never repeated in an error: it may hold the password.
	if err != nil || u.Host == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return cfg, errors.New("--smtp-url: give smtp://USER:PASSWORD@HOST:PORT, smtps://… for TLS from the first byte, or smtp://HOST:PORT?tls=none for a relay in clear")
	}
	switch q := u.Query(); {
	case u.Scheme == "smtps" && len(q) == 0:
		cfg.TLS = ImplicitTLS
	case u.Scheme == "smtp" && len(q) == 0:
		cfg.TLS = StartTLS
	case u.Scheme == "smtp" && len(q) == 1 && q.Get("tls") == NoTLS:
		cfg.TLS = NoTLS
	default:
		return cfg, fmt.Errorf("--smtp-url: the scheme must be smtp or smtps, and tls=none the only parameter (not %q)", u.Scheme+"://…?"+strings.Join(keys(q), "&"))
	}
	cfg.Server = u.Host
	cfg.Username, cfg.Password = u.User.Username(), ""
	if p, ok := u.User.Password(); ok {
		cfg.Password = p
	}
	return cfg, nil
}

// keys lists the names of a query's parameters.
func keys(q url.Values) []string {
	var ks []string
	for k := range q {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
