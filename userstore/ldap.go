package userstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
	"github.com/go-ldap/ldap/v3"
)

// poolSize is how many service connections (bound as the store's bind DN,
// for searches) a store keeps open.
const poolSize = 4

var (
	errNoSuchUser  = errors.New("no such user in the store")
	errBadPassword = errors.New("wrong password")
)

// ldapStore is one LDAP user store with its pool of service connections.
type ldapStore struct {
	cfg     portal.UserStore
	timeout time.Duration
	pool    chan *ldap.Conn
	closed  atomic.Bool // by Reload or Close: connections in use are not put back
}

// entry is what a store says of a user.
type entry struct {
	dn    string
	roles []string
}

func newLDAPStore(cfg portal.UserStore, timeout time.Duration) *ldapStore {
	if cfg.UserFilter == "" {
		cfg.UserFilter = "(objectClass=person)"
	}
	if cfg.UserAttribute == "" {
		cfg.UserAttribute = "uid"
	}
	return &ldapStore{cfg: cfg, timeout: timeout, pool: make(chan *ldap.Conn, poolSize)}
}

func (s *ldapStore) sameConfig(cfg portal.UserStore) bool {
	a, b := s.cfg, cfg
	if a.UserFilter == "" || b.UserFilter == "" || a.UserAttribute == "" || b.UserAttribute == "" {
		b = newLDAPStore(cfg, s.timeout).cfg
	}
	return a.ID == b.ID && a.URL == b.URL && a.BindDN == b.BindDN && a.BindPassword == b.BindPassword &&
		a.UserSearchBase == b.UserSearchBase && a.UserFilter == b.UserFilter && a.UserAttribute == b.UserAttribute &&
		a.GroupSearchBase == b.GroupSearchBase && maps.Equal(a.RoleMap, b.RoleMap)
}

func (s *ldapStore) close() {
	s.closed.Store(true)
	for {
		select {
		case c := <-s.pool:
			_ = c.Close()
		default:
			return
		}
	}
}

// unavailable wraps an error of a store that cannot be reached. The bind
// password never appears in it: go-ldap's errors name no credentials.
func (s *ldapStore) unavailable(err error) error {
	return fmt.Errorf("user store %s (%s): %w: %w", s.cfg.Domain, s.cfg.URL, oauth.ErrDirectoryUnavailable, err)
}

// dial opens a connection with the store's time-outs, bound as dn.
func (s *ldapStore) dial(ctx context.Context, dn, password string) (*ldap.Conn, error) {
	dialer := &net.Dialer{Timeout: s.timeout}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < s.timeout {
		dialer.Deadline = deadline
	}
	c, err := ldap.DialURL(s.cfg.URL, ldap.DialWithDialer(dialer))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(s.timeout)
	if err := c.Bind(dn, password); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// service runs fn on a pooled service connection; a connection that
// failed is closed rather than returned, and fn is tried once more on a
// fresh one when a pooled connection turns out to be broken (the server
// restarted, say).
func (s *ldapStore) service(ctx context.Context, fn func(*ldap.Conn) error) error {
	for attempt := 0; attempt < 2; attempt++ {
		var c *ldap.Conn
		pooled := false
		select {
		case c = <-s.pool:
			pooled = true
		default:
			var err error
			if c, err = s.dial(ctx, s.cfg.BindDN, s.cfg.BindPassword); err != nil {
				return s.unavailable(err)
			}
		}
		err := fn(c)
		if err == nil || !isNetwork(err) {
			s.put(c)
			return err
		}
		_ = c.Close()
		if !pooled {
			return s.unavailable(err)
		}
	}
	return s.unavailable(errors.New("no working connection"))
}

func (s *ldapStore) put(c *ldap.Conn) {
	if s.closed.Load() {
		_ = c.Close()
		return
	}
	select {
	case s.pool <- c:
	default:
		_ = c.Close()
	}
}

// isNetwork reports an error after which the connection is no use.
func isNetwork(err error) bool {
	return ldap.IsErrorAnyOf(err, ldap.ErrorNetwork, ldap.LDAPResultServerDown, ldap.LDAPResultTimeout,
		ldap.LDAPResultUnavailable, ldap.LDAPResultBusy, ldap.LDAPResultConnectError)
}

// lookup finds the user's entry with its roles; errNoSuchUser when no
// entry, or more than one, matches the store's filter.
func (s *ldapStore) lookup(ctx context.Context, name string) (*entry, error) {
	var e *entry
	err := s.service(ctx, func(c *ldap.Conn) error {
		filter := fmt.Sprintf("(&%s(%s=%s))", s.cfg.UserFilter, ldap.EscapeFilter(s.cfg.UserAttribute), ldap.EscapeFilter(name))
		res, err := c.Search(ldap.NewSearchRequest(s.cfg.UserSearchBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			2, int(s.timeout/time.Second), false, filter, []string{"dn"}, nil))
		switch {
		case ldap.IsErrorAnyOf(err, ldap.LDAPResultSizeLimitExceeded, ldap.LDAPResultNoSuchObject):
			return errNoSuchUser
		case err != nil:
			return err
		case len(res.Entries) != 1:
			return errNoSuchUser
		}
		e = &entry{dn: res.Entries[0].DN}
		e.roles, err = s.roles(c, e.dn, name)
		return err
	})
	if err != nil && !errors.Is(err, errNoSuchUser) && !errors.Is(err, oauth.ErrDirectoryUnavailable) {
		return nil, s.unavailable(err)
	}
	return e, err
}

// roles maps the groups the entry belongs to (groupOfNames by member,
// posixGroup by memberUid) to apistore roles; groups the store's role map
// does not name give none.
func (s *ldapStore) roles(c *ldap.Conn, dn, name string) ([]string, error) {
	if s.cfg.GroupSearchBase == "" {
		return nil, nil
	}
	filter := fmt.Sprintf("(|(&(objectClass=groupOfNames)(member=%s))(&(objectClass=groupOfUniqueNames)(uniqueMember=%s))(&(objectClass=posixGroup)(memberUid=%s)))",
		ldap.EscapeFilter(dn), ldap.EscapeFilter(dn), ldap.EscapeFilter(name))
	res, err := c.Search(ldap.NewSearchRequest(s.cfg.GroupSearchBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, int(s.timeout/time.Second), false, filter, []string{"cn"}, nil))
	if err != nil {
		return nil, err
	}
	var roles []string
	for _, g := range res.Entries {
		if role, ok := s.cfg.RoleMap[g.GetAttributeValue("cn")]; ok && !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	slices.Sort(roles)
	return roles, nil
}

// authenticate finds the user and binds as them with the password, on a
// connection of its own (a bind changes a connection's identity).
func (s *ldapStore) authenticate(ctx context.Context, name, password string) (*entry, error) {
	e, err := s.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	c, err := s.dial(ctx, e.dn, password)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return nil, errBadPassword
	case err != nil:
		return nil, s.unavailable(err)
	}
	_ = c.Close()
	return e, nil
}
