package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/apistore/apistore/mailer"
)

// mailFlags are the SMTP settings of the store's email (password reset
// links, notices of account changes).
type mailFlags struct {
	cfg mailer.Config
	url string
}

// addMailFlags adds the --smtp-… flags to fs.
func addMailFlags(fs *flag.FlagSet) *mailFlags {
	f := &mailFlags{}
	fs.StringVar(&f.url, "smtp-url", "", "the SMTP server in one value, instead of --smtp-server, --smtp-tls, --smtp-username and --smtp-password: smtp://USER:PASSWORD@HOST:PORT (STARTTLS required), smtps://… (TLS from the first byte) or smtp://HOST:PORT?tls=none (a relay in clear); prefer the environment variable when it holds a password")
	fs.StringVar(&f.cfg.Server, "smtp-server", "", "SMTP server the store's email goes through (password reset links, notices of account changes), host or host:port; empty: the store sends no email, and a forgotten password needs apistore user reset-password")
	fs.StringVar(&f.cfg.TLS, "smtp-tls", mailer.StartTLS, "starttls (required, port 587 by default), tls (SMTPS, port 465) or none (in clear, port 25: a relay on the same host or network, without a password)")
	fs.StringVar(&f.cfg.Username, "smtp-username", "", "SMTP AUTH username (empty: no AUTH)")
	fs.StringVar(&f.cfg.Password, "smtp-password", "", "SMTP AUTH password; prefer the environment variable, as a flag shows in the process list")
	fs.StringVar(&f.cfg.From, "smtp-from", "", `the address mail comes from, e.g. "apistore <noreply@example.com>" (required with --smtp-server)`)
	return f
}

// mailer returns the Mailer the flags describe, or nil without
// --smtp-server or --smtp-url.
func (f *mailFlags) mailer() (*mailer.Mailer, error) {
	if f.url != "" {
		if f.cfg.Server != "" || f.cfg.Username != "" || f.cfg.Password != "" || f.cfg.TLS != mailer.StartTLS {
			return nil, errors.New("--smtp-url replaces --smtp-server, --smtp-tls, --smtp-username and --smtp-password: give one or the others")
		}
		cfg, err := mailer.FromURL(f.cfg, f.url)
		if err != nil {
			return nil, err
		}
		return mailer.New(cfg)
	}
	if f.cfg.Server == "" {
		if f.cfg.Username != "" || f.cfg.From != "" {
			return nil, errors.New("--smtp-username and --smtp-from need --smtp-url or --smtp-server")
		}
		return nil, nil
	}
	return mailer.New(f.cfg)
}

// mailTest sends a test message through the SMTP settings, so that they can
// be checked before anyone needs a reset link.
func mailTest(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("mail test", "Sends a test message through the --smtp-… settings, as serve would send a password reset link.", s)
	mf := addMailFlags(fs)
	to := fs.String("to", "", "the address to send the test message to (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *to == "" {
		return usageError("--to is required")
	}
	if mf.cfg.Server == "" && mf.url == "" {
		return usageError("--smtp-url or --smtp-server is required")
	}
	m, err := mf.mailer()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := m.Send(ctx, *to, "apistore test message", "This is a test message from apistore mail test.\n\n"+
		"The store sends its password reset links and notices of account changes the same way.\n"); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "sent a test message to %s through %s\n", *to, m.Server())
	return nil
}
