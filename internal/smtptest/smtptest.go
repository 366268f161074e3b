// Package smtptest runs an SMTP server inside a test (emersion/go-smtp on a
// loopback port) that keeps the messages it accepts, so that mail the
// store sends can be read back: a password reset link followed end to
// end. It is imported only by tests.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apistore/apistore/internal/certtest"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is a message the server accepted.
type Message struct {
	From    string   // MAIL FROM
	To      []string // RCPT TO
	Header  mail.Header
	Subject string // decoded
	Body    string // decoded text
	Raw     []byte
}

// Server is a running SMTP server.
type Server struct {
	Addr  string // host:port
	Host  string
	Port  int
	CAs   *x509.CertPool // trusts the server's certificate (with TLS)
	TLS   bool           // offers STARTTLS, or speaks TLS from the start (Implicit)
	creds *[2]string

	mu       sync.Mutex
	messages []Message
	arrived  chan struct{} // closed and replaced when a message arrives
	auths    int
}

// Option configures a Server.
type Option func(*options)

type options struct {
	startTLS, implicit bool
	user, password     string
}

// WithStartTLS offers STARTTLS with a self-signed certificate for
// 127.0.0.1 and localhost (Server.CAs trusts it).
func WithStartTLS() Option { return func(o *options) { o.startTLS = true } }

// WithImplicitTLS speaks TLS from the first byte, as SMTPS (port 465) does.
func WithImplicitTLS() Option { return func(o *options) { o.implicit = true } }

// WithAuth requires AUTH PLAIN with the username and password before MAIL.
func WithAuth(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// Start runs a server until t's cleanup.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{arrived: make(chan struct{})}
	if o.user != "" {
		s.creds = &[2]string{o.user, o.password}
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 1 << 20
	var ln net.Listener
	var err error
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.startTLS || o.implicit {
		cert, pool := selfSigned(t)
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.CAs, s.TLS = pool, true
		if o.implicit {
			ln = tls.NewListener(ln, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	} else {
		srv.AllowInsecureAuth = true
	}
	s.Addr = ln.Addr().String()
	tcp := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = tcp.IP.String(), tcp.Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("smtp server: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return s
}

// Next waits for the next message not read yet (in the order they came)
// for up to wait, which should be generous: sending is asynchronous and
// machines are slow.
func (s *Server) Next(t testing.TB, wait time.Duration) Message {
	t.Helper()
	deadline := time.After(wait)
	for {
		s.mu.Lock()
		if len(s.messages) > 0 {
			m := s.messages[0]
			s.messages = s.messages[1:]
			s.mu.Unlock()
			return m
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("no message arrived within %v", wait)
		}
	}
}

// Pending returns the messages that arrived and were not read by Next.
func (s *Server) Pending() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Auths counts the successful SMTP AUTH exchanges.
func (s *Server) Auths() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

func (s *Server) keep(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s}, nil
}

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.creds == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if ss.s.creds == nil || user != ss.s.creds[0] || password != ss.s.creds[1] {
			return errors.New("invalid username or password")
		}
		ss.authed = true
		ss.s.mu.Lock()
		ss.s.auths++
		ss.s.mu.Unlock()
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.creds != nil && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: ss.from, To: ss.to, Raw: raw}
	parsed, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	m.Header = parsed.Header
	m.Subject, _ = new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	var body io.Reader = parsed.Body
	switch strings.ToLower(parsed.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		return errors.New("smtptest: base64 bodies are not decoded")
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	m.Body = strings.ReplaceAll(string(text), "\r\n", "\n")
	ss.s.keep(m)
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	c := certtest.New(t, nil, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}})
	pool := x509.NewCertPool()
	pool.AddCert(c.Cert)
	return c.TLS(), pool
}
