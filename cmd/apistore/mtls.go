package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// loadClientCAs reads the --client-ca bundle; nil when no file is given.
// A file without a single certificate is an error, not an empty pool that
// would trust nothing without saying so.
func loadClientCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--client-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--client-ca: %s holds no PEM certificate", file)
	}
	return pool, nil
}

// readCertificates reads the certificates of a PEM file: the
// self-signed certificates an application registers (RFC 8705 §2.2),
// checked as the store's page checks pasted ones.
func readCertificates(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	certs, err := oauth.ParseClientCertificates(data, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return certs, nil
}

// addTLSAuthFlags adds --tls-subject and --tls-cert, which register an
// application's certificate authentication, to app create and app tls; the
// function returned reads them once parsed.
func addTLSAuthFlags(fs *flag.FlagSet) func() (oauth.TLSAuth, error) {
	subject := fs.String("tls-subject", "", "KIND:VALUE: the keys authenticate with tls_client_auth (RFC 8705 §2.1), a certificate from a --client-ca authority naming this subject; KIND is one of "+strings.Join(oauth.SubjectKinds, ", ")+", e.g. san_dns:client.example.com")
	certFile := fs.String("tls-cert", "", "PEM file of one or more self-signed certificates: the keys authenticate with self_signed_tls_client_auth (RFC 8705 §2.2), presenting one of them")
	return func() (oauth.TLSAuth, error) { return tlsAuthFlags(*subject, *certFile) }
}

// tlsAuthFlags makes an application's certificate authentication from
// --tls-subject (KIND:VALUE) and --tls-cert (a PEM file): at most one of
// them; neither is the zero TLSAuth, the consumer secret.
func tlsAuthFlags(subject, certFile string) (oauth.TLSAuth, error) {
	var a oauth.TLSAuth
	switch {
	case subject != "" && certFile != "":
		return a, errors.New("--tls-subject (tls_client_auth) and --tls-cert (self_signed_tls_client_auth) exclude each other")
	case subject != "":
		kind, value, ok := strings.Cut(subject, ":")
		if !ok {
			return a, fmt.Errorf("--tls-subject %q: give KIND:VALUE, KIND one of %s", subject, strings.Join(oauth.SubjectKinds, ", "))
		}
		a = oauth.TLSAuth{Method: oauth.AuthTLSClient, SubjectKind: kind, Subject: value}
	case certFile != "":
		certs, err := readCertificates(certFile)
		if err != nil {
			return a, fmt.Errorf("--tls-cert: %w", err)
		}
		a = oauth.SelfSignedTLSAuth(certs)
	}
	if err := a.Check(); err != nil {
		return a, fmt.Errorf("--tls-subject or --tls-cert: %w", err)
	}
	return a, nil
}

// appTLS changes how an existing application's keys authenticate: with a
// TLS client certificate (RFC 8705 §2), or again with their secrets. Tokens
// issued before stay as they are, bound or not.
func appTLS(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("app tls", "Sets how an application's keys authenticate: a TLS client certificate (--tls-subject or --tls-cert), or with --secret their consumer secrets again.", s)
	store := addStoreFlags(fs)
	owner := fs.String("owner", "", "username of the owner (required)")
	name := fs.String("name", "", "application name (required)")
	tlsFlags := addTLSAuthFlags(fs)
	secret := fs.Bool("secret", false, "the keys authenticate with their consumer secrets again")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *owner == "" || strings.TrimSpace(*name) == "" {
		return errors.New("--owner and --name are required")
	}
	a, err := tlsFlags()
	if err != nil {
		return err
	}
	if *secret == (a.Method != "") {
		return errors.New("give one of --tls-subject, --tls-cert or --secret")
	}
	d, u, err := store.openForUser(ctx, *owner)
	if err != nil {
		return err
	}
	defer d.Close()
	apps, err := d.ApplicationsByOwner(ctx, u.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(apps, func(app portal.Application) bool { return strings.EqualFold(app.Name, strings.TrimSpace(*name)) })
	if i < 0 {
		return fmt.Errorf("%s has no application named %q", u.Username, *name)
	}
	if err := d.SetApplicationTLSAuth(ctx, apps[i].ID, a); err != nil {
		return err
	}
	method := cmp.Or(a.Method, "client_secret_basic, client_secret_post")
	auditCommand(ctx, d, s, portal.AuditApplicationUpdated, u.Username, "", "apistore app tls, application "+apps[i].Name+": "+method)
	fmt.Fprintf(s.out, "application %s of %s: the keys authenticate with %s\n", apps[i].Name, u.Username, method)
	return nil
}
