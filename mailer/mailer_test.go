package mailer_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/smtptest"
	"github.com/apistore/apistore/mailer"
)

func TestNewChecksTheSettings(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  mailer.Config
		err  string // "": accepted
		addr string // Server() when accepted
	}{
		{"STARTTLS on its default port", mailer.Config{Server: "smtp.example.com", From: "noreply@example.com"}, "", "smtp.example.com:587 (STARTTLS)"},
		{"implicit TLS", mailer.Config{Server: "smtp.example.com", TLS: "tls", From: "noreply@example.com"}, "", "smtp.example.com:465 (TLS)"},
		{"a relay in clear", mailer.Config{Server: "localhost", TLS: "none", From: "noreply@example.com"}, "", "localhost:25 (no TLS)"},
		{"a port", mailer.Config{Server: "smtp.example.com:2525", From: "apistore <noreply@example.com>"}, "", "smtp.example.com:2525 (STARTTLS)"},
		{"IPv6", mailer.Config{Server: "[2001:db8::25]:587", From: "noreply@example.com"}, "", "[2001:db8::25]:587 (STARTTLS)"},
		{"IPv6 without port", mailer.Config{Server: "[2001:db8::25]", From: "noreply@example.com"}, "", "[2001:db8::25]:587 (STARTTLS)"},
		{"unknown TLS mode", mailer.Config{Server: "smtp.example.com", TLS: "ssl", From: "noreply@example.com"}, "--smtp-tls must be starttls, tls or none", ""},
		{"a password in clear", mailer.Config{Server: "smtp.example.com", TLS: "none", Username: "u", Password: "p", From: "noreply@example.com"}, "password in clear", ""},
		{"a password without a username", mailer.Config{Server: "smtp.example.com", Password: "p", From: "noreply@example.com"}, "--smtp-password without --smtp-username", ""},
		{"no sender", mailer.Config{Server: "smtp.example.com"}, "--smtp-from is required", ""},
		{"a bad sender", mailer.Config{Server: "smtp.example.com", From: "noreply"}, "is not an email address", ""},
		{"a bad port", mailer.Config{Server: "smtp.example.com:0", From: "noreply@example.com"}, "give a host name", ""},
		{"a URL", mailer.Config{Server: "smtp://smtp.example.com", From: "noreply@example.com"}, "give a host name", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := mailer.New(tt.cfg)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one saying %q", err, tt.err)
			case tt.err == "" && m.Server() != tt.addr:
				t.Errorf("server %q, want %q", m.Server(), tt.addr)
			}
		})
	}
}

func TestFromURL(t *testing.T) {
	from := mailer.Config{From: "noreply@example.com"}
	for _, tt := range []struct {
		url, err, addr     string
		username, password string
	}{
		{url: "smtp://apistore:s%40cret@smtp.example.com:2525", addr: "smtp.example.com:2525 (STARTTLS)", username: "apistore", password: "s@cret"},
		{url: "smtps://apistore:secret@smtp.example.com", addr: "smtp.example.com:465 (TLS)", username: "apistore", password: "secret"},
		{url: "smtp://localhost?tls=none", addr: "localhost:25 (no TLS)"},
		{url: "smtp://u:p@localhost?tls=none", err: "password in clear"},
		{url: "http://u:secret@smtp.example.com", err: "the scheme must be smtp or smtps"},
		{url: "smtp://smtp.example.com?tls=on", err: "tls=none the only parameter"},
		{url: "smtp.example.com:25", err: "give smtp://USER:PASSWORD@HOST:PORT"},
		{url: "smtp://u:secret@smtp.example.com/inbox", err: "give smtp://USER:PASSWORD@HOST:PORT"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			cfg, err := mailer.FromURL(from, tt.url)
			var m *mailer.Mailer
			if err == nil {
				m, err = mailer.New(cfg)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one saying %q", err, tt.err)
			case err != nil && strings.Contains(err.Error(), "secret"):
				t.Errorf("the error shows the password: %v", err)
			case tt.err == "" && (m.Server() != tt.addr || cfg.Username != tt.username || cfg.Password != tt.password):
				t.Errorf("server %q, user %q, password %q; want %q, %q, %q", m.Server(), cfg.Username, cfg.Password, tt.addr, tt.username, tt.password)
			}
		})
	}
}

func TestSend(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []smtptest.Option
		cfg  mailer.Config
	}{
		{"a relay in clear", nil, mailer.Config{TLS: mailer.NoTLS}},
		{"STARTTLS with a password", []smtptest.Option{smtptest.WithStartTLS(), smtptest.WithAuth("apistore", "smtp-secret")},
			mailer.Config{TLS: mailer.StartTLS, Username: "apistore", Password: "smtp-secret"}},
		{"implicit TLS with a password", []smtptest.Option{smtptest.WithImplicitTLS(), smtptest.WithAuth("apistore", "smtp-secret")},
			mailer.Config{TLS: mailer.ImplicitTLS, Username: "apistore", Password: "smtp-secret"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.Start(t, tt.opts...)
			cfg := tt.cfg
			cfg.Server, cfg.From, cfg.RootCAs, cfg.Timeout = srv.Addr, "apistore <noreply@example.com>", srv.CAs, 20*time.Second
			m, err := mailer.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			body := "Hello Ålice,\n\nopen https://store.example.com/store/password/reset?token=abc_DEF-123 within an hour.\n"
			if err := m.Send(context.Background(), "alice@example.com", "Reset your apistore password", body); err != nil {
				t.Fatal(err)
			}
			got := srv.Next(t, 20*time.Second)
			if got.From != "noreply@example.com" || len(got.To) != 1 || got.To[0] != "alice@example.com" {
				t.Errorf("envelope from %q to %v", got.From, got.To)
			}
			if got.Subject != "Reset your apistore password" || got.Header.Get("From") != `"apistore" <noreply@example.com>` ||
				got.Header.Get("Message-Id") == "" || got.Header.Get("Date") == "" {
				t.Errorf("headers: %v", got.Header)
			}
			if strings.TrimSpace(got.Body) != strings.TrimSpace(body) {
				t.Errorf("body %q, want %q", got.Body, body)
			}
			if tt.cfg.Username != "" && srv.Auths() != 1 {
				t.Errorf("%d AUTH exchanges", srv.Auths())
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	plain := smtptest.Start(t)
	secure := smtptest.Start(t, smtptest.WithStartTLS(), smtptest.WithAuth("apistore", "smtp-secret"))
	for _, tt := range []struct {
		name string
		cfg  mailer.Config
	}{
		// STARTTLS is required: a server that does not offer it gets nothing.
		{"no STARTTLS offered", mailer.Config{Server: plain.Addr}},
		{"a wrong password", mailer.Config{Server: secure.Addr, Username: "apistore", Password: "wrong", RootCAs: secure.CAs}},
		{"an untrusted certificate", mailer.Config{Server: secure.Addr, Username: "apistore", Password: "smtp-secret"}},
		{"nothing listening", mailer.Config{Server: "127.0.0.1:" + strconv.Itoa(closedPort(t)), TLS: mailer.NoTLS}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.From, cfg.Timeout = "noreply@example.com", 20*time.Second
			m, err := mailer.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Send(context.Background(), "alice@example.com", "subject", "body"); err == nil {
				t.Error("sent")
			} else if strings.Contains(err.Error(), "smtp-secret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	if n := len(plain.Pending()) + len(secure.Pending()); n != 0 {
		t.Errorf("%d messages accepted", n)
	}
	m, _ := mailer.New(mailer.Config{Server: plain.Addr, TLS: mailer.NoTLS, From: "noreply@example.com"})
	if err := m.Send(context.Background(), "not an address", "subject", "body"); err == nil {
		t.Error("sent to a bad address")
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}
