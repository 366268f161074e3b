package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
	"github.com/jackc/pgx/v5"
)

// CreateUserStore stores a secondary user store; a domain taken in the
// tenant (in any case) is ErrConflict.
func (d *DB) CreateUserStore(ctx context.Context, s *portal.UserStore) error {
	if s.Tenant == "" {
		s.Tenant = portal.SuperTenant
	}
	err := writeRow(ctx, d.pool, `INSERT INTO user_stores (tenant, domain, url, bind_dn, bind_password,
		user_search_base, user_filter, user_attribute, group_search_base, role_map, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		[]any{s.Tenant, s.Domain, s.URL, s.BindDN, s.BindPassword, s.UserSearchBase, s.UserFilter, s.UserAttribute,
			s.GroupSearchBase, portal.JoinRoleMap(s.RoleMap), time.Now().UnixMilli()}, &s.ID)
	if isUnique(err) {
		return fmt.Errorf("create user store %q: %w", s.Domain, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create user store: %w", err)
	}
	return nil
}

// UserStores returns every secondary user store, by domain.
func (d *DB) UserStores(ctx context.Context) ([]portal.UserStore, error) {
	rows, err := query(ctx, d.pool, `SELECT `+rowmap.UserStoreColumns+` FROM user_stores ORDER BY tenant, lower(domain)`)
	if err != nil {
		return nil, fmt.Errorf("user stores: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (portal.UserStore, error) { return rowmap.ScanUserStore(row) })
}

// UpsertStoreUser makes or updates the local account of a user store's
// user after a successful log-in through the store, as SQLite's does.
func (d *DB) UpsertStoreUser(ctx context.Context, storeID int64, username string, roles []string) (*portal.User, error) {
	var u *portal.User
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var id, owner int64
		var byStore bool
		err := queryRow(ctx, tx, `SELECT u.id, COALESCE(s.store_id, 0), COALESCE(s.disabled_by_store, false)
			FROM users u LEFT JOIN user_store_users s ON s.user_id = u.id WHERE `+byUsernameOf("u"), username).Scan(&id, &owner, &byStore)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if err := writeRow(ctx, tx, `INSERT INTO users (username, password_hash, roles, created_at, tenant_id)
				VALUES ($1, '', $2, $3, (SELECT tn.id FROM tenants tn JOIN user_stores s ON lower(s.tenant) = lower(tn.domain) WHERE s.id = $4))
				RETURNING id`, []any{username, joinWords(roles), time.Now().UnixMilli(), storeID}, &id); err != nil {
				return err
			}
			if _, err := exec(ctx, tx, `INSERT INTO user_store_users (user_id, store_id) VALUES ($1, $2)`, id, storeID); err != nil {
				return err
			}
		case err != nil:
			return err
		case owner != storeID:
			return fmt.Errorf("user %q: %w", username, portal.ErrConflict)
		default:
			if _, err := exec(ctx, tx, `UPDATE users SET roles = $1 WHERE id = $2 AND roles <> $1`, joinWords(roles), id); err != nil {
				return err
			}
			if byStore {
				if _, err := exec(ctx, tx, `UPDATE users SET disabled_at = NULL WHERE id = $1`, id); err != nil {
					return err
				}
				if _, err := exec(ctx, tx, `UPDATE user_store_users SET disabled_by_store = false WHERE user_id = $1`, id); err != nil {
					return err
				}
			}
		}
		u, err = rowmap.ScanUser(queryRow(ctx, tx, `SELECT `+rowmap.UserColumns+` FROM users WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("upsert store user: %w", err)
	}
	return u, nil
}

// byUsernameOf is byUsername for the users table under an alias.
func byUsernameOf(alias string) string {
	return `lower(` + alias + `.username) = lower($1 COLLATE "C")`
}

// StoreUsers returns the local accounts of a user store's users, by id.
func (d *DB) StoreUsers(ctx context.Context, storeID int64) ([]portal.StoreUser, error) {
	rows, err := query(ctx, d.pool, `SELECT u.id, u.username, u.disabled_at IS NOT NULL, s.disabled_by_store
		FROM user_store_users s JOIN users u ON u.id = s.user_id WHERE s.store_id = $1 ORDER BY u.id`, storeID)
	if err != nil {
		return nil, fmt.Errorf("store users: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (portal.StoreUser, error) { return rowmap.StoreUser(row) })
}

// SetDisabledByStore records that the user store's sync disabled the
// account (after DisableUser), so that a later log-in through the store
// may enable it again.
func (d *DB) SetDisabledByStore(ctx context.Context, userID int64) error {
	tag, err := d.exec(ctx, `UPDATE user_store_users SET disabled_by_store = true WHERE user_id = $1`, userID)
	return oneRow(tag, err, fmt.Sprintf("store user %d", userID))
}
