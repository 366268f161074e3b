package postgres

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
	err := writeRow(ctx, d.pool, `INSERT INTO users (username, password_hash, email, roles, created_at, tenant_id)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		[]any{u.Username, u.PasswordHash, u.Email, joinWords(u.Roles), time.Now().UnixMilli(), portal.TenantIDOf(u.TenantID)}, &u.ID)
	if isUnique(err) {
		return fmt.Errorf("create user %q: %w", u.Username, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// UserByName finds a user by username, ignoring case.
func (d *DB) UserByName(ctx context.Context, username string) (*oauth.User, error) {
	u, err := d.UserAccount(ctx, username)
	if err != nil {
		return nil, err
	}
	return &u.User, nil
}

// byUsername matches $1 as SQLite's NOCASE does, through the unique index
// on lower(username) (migration 0001).
const byUsername = `lower(username) = lower($1 COLLATE "C")`

// UserAccount is UserByName with the account's store details. The name
// may carry the super tenant's suffix (admin@carbon.super); other tenants'
// users are kept under their full names (portal.StoredUsername).
func (d *DB) UserAccount(ctx context.Context, username string) (*portal.User, error) {
	username = portal.StoredUsername(username)
	u, err := rowmap.ScanUser(queryRow(ctx, d.pool, `SELECT `+rowmap.UserColumns+` FROM users WHERE `+byUsername, username))
	if err != nil {
		return nil, notFound("user "+username, err)
	}
	return u, nil
}

// UserByID finds a user by id.
func (d *DB) UserByID(ctx context.Context, id int64) (*portal.User, error) {
	u, err := rowmap.ScanUser(queryRow(ctx, d.pool, `SELECT `+rowmap.UserColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(fmt.Sprintf("user %d", id), err)
	}
	return u, nil
}

// UserRoles returns the roles of the user with the id; a disabled user, or
// one of a deactivated tenant, is not found, so a refresh of the user's tokens fails.
func (d *DB) UserRoles(ctx context.Context, id int64) ([]string, error) {
	var roles string
	if err := queryRow(ctx, d.pool, `SELECT roles FROM users WHERE id = $1 AND disabled_at IS NULL
		AND tenant_id IN (SELECT id FROM tenants WHERE active)`, id).Scan(&roles); err != nil {
		return nil, notFound(fmt.Sprintf("user %d", id), err)
	}
	return words(roles), nil
}

// DeleteUser removes a user with their applications, keys, subscriptions and
// tokens (the schema cascades); their tokens stop working at once.
func (d *DB) DeleteUser(ctx context.Context, username string) error {
	if !textOK(username) { // no such user can exist
		return fmt.Errorf("delete user %s: %w", username, portal.ErrNotFound)
	}
	tag, err := d.exec(ctx, `DELETE FROM users WHERE `+byUsername, username)
	return oneRow(tag, err, "delete user "+username)
}
