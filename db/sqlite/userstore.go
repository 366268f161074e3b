package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// CreateUserStore stores a secondary user store; a domain taken in the
// tenant (in any case) is ErrConflict.
func (d *DB) CreateUserStore(ctx context.Context, s *portal.UserStore) error {
	if s.Tenant == "" {
		s.Tenant = portal.SuperTenant
	}
	res, err := d.w.ExecContext(ctx, `INSERT INTO user_stores (tenant, domain, url, bind_dn, bind_password,
		user_search_base, user_filter, user_attribute, group_search_base, role_map, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Tenant, s.Domain, s.URL, s.BindDN, s.BindPassword, s.UserSearchBase, s.UserFilter, s.UserAttribute,
		s.GroupSearchBase, portal.JoinRoleMap(s.RoleMap), time.Now().UnixMilli())
	if isUnique(err) {
		return fmt.Errorf("create user store %q: %w", s.Domain, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create user store: %w", err)
	}
	s.ID, err = res.LastInsertId()
	return err
}

// UserStores returns every secondary user store, by domain.
func (d *DB) UserStores(ctx context.Context) ([]portal.UserStore, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+rowmap.UserStoreColumns+` FROM user_stores ORDER BY tenant, domain`)
	return collectRows(rows, err, "user stores", rowmap.ScanUserStore)
}

// collectRows reads every row of a query with scan, closing the rows; what
// names the query in errors.
func collectRows[T any](rows *sql.Rows, err error, what string, scan func(rowmap.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	return rowmap.All(rows, what, scan)
}

// UpsertStoreUser makes or updates the local account of a user store's
// user after a successful log-in through the store: its roles become
// roles, and an account the store's sync disabled is enabled again (one an
// administrator disabled stays so). A primary user with the name is
// ErrConflict.
func (d *DB) UpsertStoreUser(ctx context.Context, storeID int64, username string, roles []string) (*portal.User, error) {
	var u *portal.User
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var id, owner int64
		var byStore bool
		err := tx.QueryRowContext(ctx, `SELECT u.id, COALESCE(s.store_id, 0), COALESCE(s.disabled_by_store, 0)
			FROM users u LEFT JOIN user_store_users s ON s.user_id = u.id WHERE u.username = ?`, username).Scan(&id, &owner, &byStore)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			res, err := tx.ExecContext(ctx, `INSERT INTO users (username, password_hash, roles, created_at, tenant_id)
				VALUES (?, '', ?, ?, (SELECT tn.id FROM tenants tn JOIN user_stores s ON s.tenant = tn.domain WHERE s.id = ?))`,
				username, joinWords(roles), time.Now().UnixMilli(), storeID)
			if err != nil {
				return err
			}
			if id, err = res.LastInsertId(); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_store_users (user_id, store_id) VALUES (?, ?)`, id, storeID); err != nil {
				return err
			}
		case err != nil:
			return err
		case owner != storeID:
			return fmt.Errorf("user %q: %w", username, portal.ErrConflict)
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE users SET roles = ? WHERE id = ? AND roles <> ?`,
				joinWords(roles), id, joinWords(roles)); err != nil {
				return err
			}
			if byStore {
				if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = NULL WHERE id = ?`, id); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE user_store_users SET disabled_by_store = 0 WHERE user_id = ?`, id); err != nil {
					return err
				}
			}
		}
		u, err = rowmap.ScanUser(tx.QueryRowContext(ctx, `SELECT `+rowmap.UserColumns+` FROM users WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("upsert store user: %w", err)
	}
	return u, nil
}

// StoreUsers returns the local accounts of a user store's users, by id.
func (d *DB) StoreUsers(ctx context.Context, storeID int64) ([]portal.StoreUser, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT u.id, u.username, u.disabled_at IS NOT NULL, s.disabled_by_store
		FROM user_store_users s JOIN users u ON u.id = s.user_id WHERE s.store_id = ? ORDER BY u.id`, storeID)
	return collectRows(rows, err, "store users", rowmap.StoreUser)
}

// SetDisabledByStore records that the user store's sync disabled the
// account (after DisableUser), so that a later log-in through the store
// may enable it again.
func (d *DB) SetDisabledByStore(ctx context.Context, userID int64) error {
	res, err := d.w.ExecContext(ctx, `UPDATE user_store_users SET disabled_by_store = 1 WHERE user_id = ?`, userID)
	return oneRow(res, err, fmt.Sprintf("store user %d", userID))
}
