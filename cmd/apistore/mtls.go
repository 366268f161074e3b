package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/apistore/apistore/oauth"
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
// self-signed certificates an application registers (RFC 8705 §2.2).
func readCertificates(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return certs, nil
}

// tlsAuthFlags makes an application's certificate authentication from
// app create's --tls-subject (KIND:VALUE) and --tls-cert (a PEM file):
// at most one of them.
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
		a.Method = oauth.AuthSelfSignedTLS
		for _, c := range certs {
			a.Certs = append(a.Certs, oauth.CertThumbprint(c))
		}
	}
	if err := a.Check(); err != nil {
		return a, fmt.Errorf("--tls-subject or --tls-cert: %w", err)
	}
	return a, nil
}
