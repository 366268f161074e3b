// Package userstore holds the read-only secondary user stores (LDAP) whose
// users log in as DOMAIN/name, WSO2's form: authentication by LDAP bind,
// roles from LDAP groups, and the sync that disables the local accounts of
// users a store no longer has.
package userstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// Store is what the user stores need from the database.
type Store interface {
	UserStores(ctx context.Context) ([]portal.UserStore, error)
	UpsertStoreUser(ctx context.Context, storeID int64, username string, roles []string) (*portal.User, error)
	StoreUsers(ctx context.Context, storeID int64) ([]portal.StoreUser, error)
	UserByID(ctx context.Context, id int64) (*portal.User, error)
	DisableUser(ctx context.Context, username string, at time.Time) (*portal.User, portal.Ended, error)
	SetDisabledByStore(ctx context.Context, userID int64) error
	RecordAudit(ctx context.Context, e *portal.AuditEvent) error
}

// DefaultTimeout bounds each LDAP dial and operation.
const DefaultTimeout = 5 * time.Second

// Username is a parsed log-in name.
type Username struct {
	Domain string // the user store's domain; "" for the primary store
	Name   string // the name within the store
	Tenant string // what follows the last '@', lower-cased; portal.SuperTenant without one
}

// ParseUsername splits a log-in name into its user-store domain, name and
// tenant: "CORP/bob" is bob of the super tenant's CORP store,
// "CORP/bob@acme.com" bob of acme.com's, "alice" the super tenant's primary
// store's alice. The tenant is what follows the last '@', so
// "john@example.org@acme.com" is acme.com's john@example.org; whether the
// tenant exists is for the caller (a super-tenant e-mail username,
// "CORP/john@example.org", reads as tenant example.org here).
func ParseUsername(username string) Username {
	u := Username{Name: username, Tenant: portal.SuperTenant}
	if rest, tenant := portal.SplitTenant(username); tenant != "" {
		u.Name, u.Tenant = rest, strings.ToLower(tenant)
	}
	if domain, name, ok := strings.Cut(u.Name, "/"); ok {
		u.Domain, u.Name = domain, name
	}
	return u
}

// storeKey is the key of a tenant's store in Directory.stores.
func storeKey(tenant, domain string) string {
	return strings.ToLower(tenant) + "\x00" + strings.ToUpper(domain)
}

// Directory holds the secondary user stores; it implements
// oauth.Directory for the password grant and serves the store's log-in.
type Directory struct {
	db      Store
	now     func() time.Time
	timeout time.Duration

	mu     sync.RWMutex
	stores map[string]*ldapStore // by storeKey
}

// New returns a directory over the user stores of db, loaded now.
func New(ctx context.Context, db Store, timeout time.Duration) (*Directory, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d := &Directory{db: db, now: time.Now, timeout: timeout, stores: map[string]*ldapStore{}}
	return d, d.Reload(ctx)
}

// Reload reads the user stores again: stores added since are used, those
// changed get new connections.
func (d *Directory) Reload(ctx context.Context) error {
	list, err := d.db.UserStores(ctx)
	if err != nil {
		return fmt.Errorf("load user stores: %w", err)
	}
	next := map[string]*ldapStore{}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, cfg := range list {
		key := storeKey(cfg.Tenant, cfg.Domain)
		if old, ok := d.stores[key]; ok && old.sameConfig(cfg) {
			next[key] = old
			continue
		}
		next[key] = newLDAPStore(cfg, d.timeout)
	}
	for key, old := range d.stores {
		if next[key] != old {
			old.close()
		}
	}
	d.stores = next
	return nil
}

// Close ends the pooled connections.
func (d *Directory) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.stores {
		s.close()
	}
	d.stores = map[string]*ldapStore{}
}

// resolve finds the store that username names and the name within it:
// CORP/bob@acme.com is bob of acme.com's CORP store; when the tenant has
// no such store, the whole name is the super tenant's (an e-mail username,
// CORP/john@example.org), as for the primary store.
func (d *Directory) resolve(username string) (*ldapStore, string) {
	u := ParseUsername(username)
	if u.Domain == "" {
		return nil, ""
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if s := d.stores[storeKey(u.Tenant, u.Domain)]; s != nil {
		return s, u.Name
	}
	if u.Tenant != portal.SuperTenant {
		_, name, _ := strings.Cut(username, "/")
		return d.stores[storeKey(portal.SuperTenant, u.Domain)], name
	}
	return nil, ""
}

// Claims reports whether username names a secondary user store's user
// (DOMAIN/name of a store that exists, in the tenant the name gives).
func (d *Directory) Claims(username string) bool {
	s, _ := d.resolve(username)
	return s != nil
}

// Authenticate checks username's password with its user store by an LDAP
// bind and returns the local account, made or updated with the roles the
// store's groups map to. A wrong name or password, or a user the store's
// filter no longer matches, is oauth.ErrNotFound; the account of a user
// the store no longer has is disabled at once. A store that cannot be
// reached wraps oauth.ErrDirectoryUnavailable.
func (d *Directory) Authenticate(ctx context.Context, username, password string) (*oauth.User, error) {
	u, err := d.LogIn(ctx, username, password)
	if err != nil {
		return nil, err
	}
	return &u.User, nil
}

// LogIn is Authenticate with the account's store details, for the store's
// log-in page.
func (d *Directory) LogIn(ctx context.Context, username, password string) (*portal.User, error) {
	s, name := d.resolve(username)
	if s == nil || name == "" || password == "" { // an empty password would be an anonymous bind
		return nil, fmt.Errorf("user %q: %w", username, oauth.ErrNotFound)
	}
	entry, err := s.authenticate(ctx, name, password)
	switch {
	case errors.Is(err, errNoSuchUser):
		d.disableGone(ctx, s, canonical(s, name))
		return nil, fmt.Errorf("user %q: %w", username, oauth.ErrNotFound)
	case errors.Is(err, errBadPassword):
		return nil, fmt.Errorf("user %q: %w", username, oauth.ErrNotFound)
	case err != nil:
		return nil, err
	}
	return d.db.UpsertStoreUser(ctx, s.cfg.ID, canonical(s, name), entry.roles)
}

// CheckUser asks the store of the user with the id, when one of the
// directory's stores holds them, whether it still has them (a search, no
// bind): oauth.ErrNotFound when it no longer does, or its filter no longer
// matches their entry, and their local account is then disabled (ending
// their sessions and tokens), as a refused log-in does; an error wrapping
// oauth.ErrDirectoryUnavailable when the store cannot be reached; nil for
// the primary store's users.
func (d *Directory) CheckUser(ctx context.Context, userID int64) error {
	d.mu.RLock()
	none := len(d.stores) == 0
	d.mu.RUnlock()
	if none {
		return nil
	}
	u, err := d.db.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	s, name := d.resolve(u.Username)
	if s == nil || !strings.EqualFold(canonical(s, name), u.Username) {
		return nil // the primary store's, or a user store removed since
	}
	_, err = s.lookup(ctx, name)
	if errors.Is(err, errNoSuchUser) {
		d.disableGone(ctx, s, u.Username)
		return fmt.Errorf("user %q: %w", u.Username, oauth.ErrNotFound)
	}
	return err
}

// canonical is the local username of a store's user: the store's domain
// as configured, a slash and the name, with the tenant's suffix in other
// tenants than the super tenant (CORP/bob@acme.com).
func canonical(s *ldapStore, name string) string {
	return portal.TenantUsername(s.cfg.Domain+"/"+name, s.cfg.Tenant)
}

// nameIn is canonical reversed: the name within its store of a local
// account of s.
func nameIn(s *ldapStore, username string) string {
	_, name, _ := strings.Cut(username, "/")
	if suffix := "@" + s.cfg.Tenant; !strings.EqualFold(s.cfg.Tenant, portal.SuperTenant) &&
		len(name) > len(suffix) && strings.EqualFold(name[len(name)-len(suffix):], suffix) {
		name = name[:len(name)-len(suffix)]
	}
	return name
}

// disableGone disables the local account of a user the store no longer
// has, if there is one and it is enabled.
func (d *Directory) disableGone(ctx context.Context, s *ldapStore, username string) {
	users, err := d.db.StoreUsers(ctx, s.cfg.ID)
	if err != nil {
		slog.ErrorContext(ctx, "user store sync", "domain", s.cfg.Domain, "err", err)
		return
	}
	for _, su := range users {
		if strings.EqualFold(su.Username, username) && !su.Disabled {
			d.disable(ctx, s, su)
		}
	}
}

func (d *Directory) disable(ctx context.Context, s *ldapStore, su portal.StoreUser) {
	if _, _, err := d.db.DisableUser(ctx, su.Username, d.now()); err != nil {
		slog.ErrorContext(ctx, "user store sync", "domain", s.cfg.Domain, "user", su.Username, "err", err)
		return
	}
	if err := d.db.SetDisabledByStore(ctx, su.ID); err != nil {
		slog.ErrorContext(ctx, "user store sync", "domain", s.cfg.Domain, "user", su.Username, "err", err)
		return
	}
	slog.InfoContext(ctx, "user store sync: disabled a user the store no longer has", "domain", s.cfg.Domain, "user", su.Username)
	e := &portal.AuditEvent{At: d.now(), Event: portal.AuditUserDisabled, Username: su.Username, Remote: "user store " + s.cfg.Domain,
		Detail: "the " + s.cfg.Domain + " user store no longer has the user, or its filter no longer matches"}
	if err := d.db.RecordAudit(ctx, e); err != nil {
		slog.ErrorContext(ctx, "user store sync: audit", "err", err)
	}
}

// Sync reloads the user stores, then asks each store about every enabled
// local account of its users and disables (ending their sessions and
// tokens) those it no longer has or whose entry its filter no longer
// matches. A store that cannot be reached is skipped: what it cannot say
// is left as it is. It returns how many accounts it disabled.
func (d *Directory) Sync(ctx context.Context) (int, error) {
	if err := d.Reload(ctx); err != nil {
		return 0, err
	}
	d.mu.RLock()
	stores := make([]*ldapStore, 0, len(d.stores))
	for _, s := range d.stores {
		stores = append(stores, s)
	}
	d.mu.RUnlock()
	disabled := 0
	var errs []error
	for _, s := range stores {
		users, err := d.db.StoreUsers(ctx, s.cfg.ID)
		if err != nil {
			return disabled, err
		}
		for _, su := range users {
			if su.Disabled {
				continue
			}
			_, err := s.lookup(ctx, nameIn(s, su.Username))
			switch {
			case errors.Is(err, errNoSuchUser):
				d.disable(ctx, s, su)
				disabled++
			case err != nil:
				errs = append(errs, fmt.Errorf("user store %s: %w", s.cfg.Domain, err))
			}
			if err != nil && !errors.Is(err, errNoSuchUser) {
				break // unreachable: the next sync asks again
			}
		}
	}
	return disabled, errors.Join(errs...)
}

// Run syncs every interval until ctx ends.
func (d *Directory) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := d.Sync(ctx); err != nil && ctx.Err() == nil {
				slog.WarnContext(ctx, "user store sync", "err", err)
			}
		}
	}
}
