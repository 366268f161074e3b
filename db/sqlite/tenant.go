package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// CreateTenant stores a tenant with its first administrator in one
// transaction; admin.Username is the name within the tenant (alice), kept
// as alice@domain. A domain taken, or one that a super-tenant user's
// e-mail username already ends with, is ErrConflict.
func (d *DB) CreateTenant(ctx context.Context, t *portal.Tenant, admin *portal.User) error {
	if err := d.tx(ctx, func(tx *sql.Tx) error { return insertTenant(ctx, tx, t, admin) }); err != nil {
		return fmt.Errorf("create tenant %q: %w", t.Domain, err)
	}
	return nil
}

// SeedTenants adds many tenants, each with its administrator and APIs,
// portal.SeedBatch tenants per transaction rather than one transaction
// per row: for benchmarks and bulk loads. A batch is all or nothing.
func (d *DB) SeedTenants(ctx context.Context, seeds []portal.TenantSeed) error {
	return rowmap.SeedTenants(seeds, func(f func(*sql.Tx) error) error { return d.tx(ctx, f) },
		func(tx *sql.Tx, t *portal.Tenant, admin *portal.User) error { return insertTenant(ctx, tx, t, admin) },
		func(tx *sql.Tx, a *portal.API) error { return insertAPI(ctx, tx, a) })
}

// insertTenant stores a tenant and its administrator in tx (CreateTenant).
func insertTenant(ctx context.Context, tx *sql.Tx, t *portal.Tenant, admin *portal.User) error {
	t.Domain = strings.ToLower(t.Domain)
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE username LIKE ? ESCAPE '\'`,
		"%@"+likeEscape(t.Domain)).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return portal.ErrConflict
	}
	now := time.Now()
	res, err := tx.ExecContext(ctx, `INSERT INTO tenants (domain, active, created_at) VALUES (?, 1, ?)`, t.Domain, now.UnixMilli())
	if isUnique(err) {
		return portal.ErrConflict
	}
	if err != nil {
		return err
	}
	if t.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	admin.Username, admin.TenantID = portal.TenantUsername(admin.Username, t.Domain), t.ID
	res, err = tx.ExecContext(ctx, `INSERT INTO users (username, password_hash, email, roles, created_at, tenant_id)
		VALUES (?, ?, ?, ?, ?, ?)`, admin.Username, admin.PasswordHash, admin.Email, joinWords(admin.Roles), now.UnixMilli(), t.ID)
	if isUnique(err) {
		return portal.ErrConflict
	}
	if err != nil {
		return err
	}
	admin.ID, err = res.LastInsertId()
	t.Active, t.CreatedAt = true, time.UnixMilli(now.UnixMilli())
	return err
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Tenants returns every tenant, the super tenant first, then by domain.
func (d *DB) Tenants(ctx context.Context) ([]portal.Tenant, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+rowmap.TenantColumns+` FROM tenants ORDER BY id <> 1, domain`)
	return collectRows(rows, err, "tenants", rowmap.ScanTenant)
}

// TenantByDomain finds a tenant by its domain, ignoring case.
func (d *DB) TenantByDomain(ctx context.Context, domain string) (*portal.Tenant, error) {
	t, err := rowmap.ScanTenant(d.queryRow(ctx, `SELECT `+rowmap.TenantColumns+` FROM tenants WHERE domain = ?`, domain))
	if err != nil {
		return nil, notFound("tenant "+domain, err)
	}
	return &t, nil
}

// SetTenantActive activates or deactivates a tenant other than the super
// tenant. A deactivated tenant's users cannot log in and its keys and
// tokens are refused from the commit on (the access generation moves).
func (d *DB) SetTenantActive(ctx context.Context, domain string, active bool) error {
	res, err := d.w.ExecContext(ctx, `UPDATE tenants SET active = ? WHERE domain = ? AND id <> 1 AND active <> ?`,
		active, domain, active)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			_, err = d.TenantByDomain(ctx, domain) // unchanged already, or unknown
			if err == nil && strings.EqualFold(domain, portal.SuperTenant) {
				err = fmt.Errorf("the super tenant: %w", portal.ErrConflict)
			}
			return err
		}
	}
	if err != nil {
		return fmt.Errorf("set tenant %q active: %w", domain, err)
	}
	return nil
}
