package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// CreateUser stores a new user; a taken username (in any case) is
// ErrConflict. Without a TenantID, the user is the tenant's whose domain
// follows the name's last '@' when there is such a tenant, and the super
// tenant's otherwise (an e-mail username).
func (d *DB) CreateUser(ctx context.Context, u *portal.User) error {
	if err := portal.ResolveTenant(ctx, d.TenantByDomain, u); err != nil {
		return err
	}
	res, err := d.w.ExecContext(ctx,
		`INSERT INTO users (username, password_hash, email, roles, created_at, tenant_id) VALUES (?, ?, ?, ?, ?, ?)`,
		u.Username, u.PasswordHash, u.Email, joinWords(u.Roles), time.Now().UnixMilli(), portal.TenantIDOf(u.TenantID))
	if isUnique(err) {
		return fmt.Errorf("create user %q: %w", u.Username, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	u.ID, err = res.LastInsertId()
	return err
}

// UserByName finds a user by username, ignoring case.
func (d *DB) UserByName(ctx context.Context, username string) (*oauth.User, error) {
	u, err := d.UserAccount(ctx, username)
	if err != nil {
		return nil, err
	}
	return &u.User, nil
}

// UserAccount is UserByName with the account's store details. The name
// may carry the super tenant's suffix (admin@carbon.super); other tenants'
// users are kept under their full names (portal.StoredUsername).
func (d *DB) UserAccount(ctx context.Context, username string) (*portal.User, error) {
	username = portal.StoredUsername(username)
	u, err := rowmap.ScanUser(d.queryRow(ctx, `SELECT `+rowmap.UserColumns+` FROM users WHERE username = ?`, username))
	if err != nil {
		return nil, notFound("user "+username, err)
	}
	return u, nil
}

// UserByID finds a user by id.
func (d *DB) UserByID(ctx context.Context, id int64) (*portal.User, error) {
	u, err := rowmap.ScanUser(d.queryRow(ctx, `SELECT `+rowmap.UserColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(fmt.Sprintf("user %d", id), err)
	}
	return u, nil
}

// UserRoles returns the roles of the user with the id; a disabled user, or
// one of a deactivated tenant, is not found, so a refresh of the user's tokens fails.
func (d *DB) UserRoles(ctx context.Context, id int64) ([]string, error) {
	var roles string
	if err := d.queryRow(ctx, `SELECT roles FROM users WHERE id = ? AND disabled_at IS NULL
		AND tenant_id IN (SELECT id FROM tenants WHERE active = 1)`, id).Scan(&roles); err != nil {
		return nil, notFound(fmt.Sprintf("user %d", id), err)
	}
	return words(roles), nil
}

// DeleteUser removes a user with their applications, keys, subscriptions and
// tokens (the schema cascades); their tokens stop working at once.
func (d *DB) DeleteUser(ctx context.Context, username string) error {
	res, err := d.w.ExecContext(ctx, `DELETE FROM users WHERE username = ?`, username)
	return oneRow(res, err, "delete user "+username)
}
