package rowmap

import (
	"strings"
	"time"

	"github.com/apistore/apistore/portal"
)

// UserColumns read a user with their tenant (a correlated lookup by the
// tenants' primary key, so the queries keep their FROM users), as UserDest
// scans them.
const UserColumns = `id, username, password_hash, email, roles, created_at, disabled_at, tenant_id,
	(SELECT tn.domain FROM tenants tn WHERE tn.id = users.tenant_id),
	(SELECT tn.active FROM tenants tn WHERE tn.id = users.tenant_id)`

// UserDest returns scan destinations for a user's id, username, password
// hash, email, roles, creation and disabling times, tenant id, domain and
// whether the tenant is active (UserColumns), and a function that finishes
// u once scanned: a user of an inactive tenant is disabled.
func UserDest(u *portal.User) ([]any, func()) {
	var roles string
	var created int64
	var disabled *int64
	dest := []any{&u.ID, &u.Username, &u.PasswordHash, &u.Email, &roles, &created, &disabled,
		&u.TenantID, &u.Tenant, &u.TenantActive}
	return dest, func() {
		u.Roles = strings.Fields(roles)
		u.CreatedAt = time.UnixMilli(created)
		u.DisabledAt, u.Disabled = FromMillis(disabled), disabled != nil || !u.TenantActive
	}
}

// ScanUser scans a row of UserColumns.
func ScanUser(row Row) (*portal.User, error) {
	var u portal.User
	dest, finish := UserDest(&u)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	finish()
	return &u, nil
}

// SessionColumns are the columns of a session s that ScanSession scans.
const SessionColumns = `s.id_hash, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.address, s.user_agent`

// ScanSession scans a row of SessionColumns, then extra.
func ScanSession(row Row, extra ...any) (*portal.Session, error) {
	var s portal.Session
	var id []byte
	var created, seen, expires int64
	if err := row.Scan(append([]any{&id, &s.UserID, &created, &seen, &expires, &s.Address, &s.UserAgent}, extra...)...); err != nil {
		return nil, err
	}
	copy(s.ID[:], id)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = time.UnixMilli(created), time.UnixMilli(seen), time.UnixMilli(expires)
	return &s, nil
}

// LoginCount scans a row of key, failures and last failure.
func LoginCount(row Row) (portal.LoginCount, error) {
	var c portal.LoginCount
	var key []byte
	var last int64
	err := row.Scan(&key, &c.Failures, &last)
	c.Key, c.Last = string(key), time.UnixMilli(last)
	return c, err
}

// KeyCount scans a row of a counter's key, failures, last failure (0:
// none) and pending reservations.
func KeyCount(row Row) (portal.LoginCount, error) {
	var c portal.LoginCount
	var key []byte
	var last int64
	err := row.Scan(&key, &c.Failures, &last, &c.Pending)
	c.Key = string(key)
	if last != 0 {
		c.Last = time.UnixMilli(last)
	}
	return c, err
}

// Expiring is a table of hashes that users hold until they expire.
type Expiring struct {
	Table, Hash string // the table and its hash column
	One, Plural string // what a row is, in errors
}

// Sessions and Resets are the log-in sessions and the password reset links.
var (
	Sessions = Expiring{"sessions", "id_hash", "session", "sessions"}
	Resets   = Expiring{"password_resets", "token_hash", "reset link", "reset links"}
)
