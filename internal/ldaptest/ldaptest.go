// Package ldaptest runs a throw-away OpenLDAP slapd for the tests
// (scripts/slapd.sh: Debian's slapd and ldap-utils, installed with
// apt-get when missing), loaded with testdata/base.ldif, on a free
// loopback port, stopped and removed at the test's cleanup. It is imported
// only by tests.
//
// Without slapd (and no way to install it) the tests that need it skip,
// unless APISTORE_TEST_LDAP=require, which make test sets: then they fail.
package ldaptest

import (
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/apistore/apistore/portal"
)

// The directory's names, as testdata/base.ldif makes them.
const (
	BaseDN          = "dc=example,dc=org"
	AdminDN         = "cn=admin,dc=example,dc=org"
	AdminPassword   = "admin"
	BindDN          = "cn=apistore,dc=example,dc=org"
	BindPassword    = "bind-secret-1"
	UserSearchBase  = "ou=people,dc=example,dc=org"
	GroupSearchBase = "ou=groups,dc=example,dc=org"
)

//go:embed testdata/base.ldif
var baseLDIF string

const envRequire = "APISTORE_TEST_LDAP"

// Server is a running slapd.
type Server struct {
	URL string
	dir string
}

var (
	installOnce sync.Once
	installErr  error
	installOut  string
)

// UserStore is the user store CORP over s, as apistore userstore add
// would record it: users found by uid under UserSearchBase among those
// userFilter matches, groups under GroupSearchBase mapped to roles.
func (s *Server) UserStore(userFilter string, roles map[string]string) *portal.UserStore {
	return &portal.UserStore{Domain: "CORP", URL: s.URL, BindDN: BindDN, BindPassword: BindPassword,
		UserSearchBase: UserSearchBase, UserFilter: userFilter, UserAttribute: "uid",
		GroupSearchBase: GroupSearchBase, RoleMap: roles}
}

// script is scripts/slapd.sh of this repository.
func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "slapd.sh")
}

// Start runs a slapd loaded with the base fixture, stopped at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	installOnce.Do(func() {
		out, err := exec.Command(script(), "install").CombinedOutput()
		installErr, installOut = err, string(out)
	})
	if installErr != nil {
		if os.Getenv(envRequire) == "require" {
			t.Fatalf("ldaptest: slapd cannot be installed: %v\n%s", installErr, installOut)
		}
		t.Skipf("ldaptest: no slapd and it cannot be installed (%v); make test installs it and runs this test", installErr)
	}
	// Under /tmp, short: slapd's files and the log stay out of the way.
	dir, err := os.MkdirTemp("", "apistore-slapd.")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil { // slapd.sh start wants it missing or empty, and marks it
		t.Fatal(err)
	}
	out, err := exec.Command(script(), "start", dir).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("ldaptest: start slapd: %v\n%s", err, stderr)
	}
	s := &Server{URL: strings.TrimSpace(string(out)), dir: dir}
	t.Cleanup(func() { s.Stop(t) })
	s.Add(t, baseLDIF)
	return s
}

// Stop stops the server and removes its files; the URL then refuses
// connections. It may be called more than once.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if out, err := exec.Command(script(), "stop", s.dir).CombinedOutput(); err != nil {
		t.Errorf("ldaptest: stop slapd: %v\n%s", err, out)
	}
}

// Add adds the entries of an LDIF text.
func (s *Server) Add(t testing.TB, ldif string) { s.ldap(t, "ldapadd", ldif) }

// Modify applies an LDIF text of changes (changetype: modify, delete, …).
func (s *Server) Modify(t testing.TB, ldif string) { s.ldap(t, "ldapmodify", ldif) }

// Delete removes an entry.
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	s.ldap(t, "ldapdelete", "", dn)
}

func (s *Server) ldap(t testing.TB, tool, ldif string, args ...string) {
	t.Helper()
	cmd := exec.Command(tool, append([]string{"-x", "-H", s.URL, "-D", AdminDN, "-w", AdminPassword}, args...)...)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldaptest: %s: %v\n%s", tool, err, out)
	}
}
