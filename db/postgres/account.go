package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// What a user does to their own account (My account) and what an
// administrator does to accounts: sessions, passwords, disabling.

// StartSession records a new log-in session, valid until s.ExpiresAt.
// Expired sessions are swept out on the way, so the table stays as small as
// the number of people logged in.
func (d *DB) StartSession(ctx context.Context, s portal.Session) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		if _, err := exec(ctx, tx, `DELETE FROM sessions WHERE expires_at <= $1`, s.CreatedAt.UnixMilli()); err != nil {
			return fmt.Errorf("sweep sessions: %w", err)
		}
		if _, err := exec(ctx, tx, `INSERT INTO sessions (id_hash, user_id, created_at, expires_at, last_seen_at, address, user_agent)
			VALUES ($1, $2, $3, $4, $3, $5, $6)`, s.ID[:], s.UserID, s.CreatedAt.UnixMilli(), s.ExpiresAt.UnixMilli(),
			s.Address, s.UserAgent); err != nil {
			return fmt.Errorf("start session: %w", err)
		}
		return nil
	})
}

// LiveSession returns an unexpired session with its user, or ErrNotFound.
func (d *DB) LiveSession(ctx context.Context, id oauth.Hash, now time.Time) (*portal.Session, *portal.User, error) {
	var u portal.User
	user, finish := rowmap.UserDest(&u)
	s, err := rowmap.ScanSession(queryRow(ctx, d.pool, `SELECT `+rowmap.SessionColumns+`, u.id, u.username, u.password_hash, u.email, u.roles,
		u.created_at, u.disabled_at, u.tenant_id, tn.domain, tn.active
		FROM sessions s JOIN users u ON u.id = s.user_id JOIN tenants tn ON tn.id = u.tenant_id WHERE s.id_hash = $1 AND s.expires_at > $2`,
		id[:], now.UnixMilli()), user...)
	if err != nil {
		return nil, nil, notFound("session", err)
	}
	finish()
	return s, &u, nil
}

// TouchSession records that a session was used at a time, from an address.
// An ended session is not an error: there is nothing to record.
func (d *DB) TouchSession(ctx context.Context, id oauth.Hash, at time.Time, address string) error {
	if _, err := d.exec(ctx, `UPDATE sessions SET last_seen_at = $1, address = $2 WHERE id_hash = $3`,
		at.UnixMilli(), address, id[:]); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// UserSessions lists a user's unexpired sessions, the most recently used
// first.
func (d *DB) UserSessions(ctx context.Context, userID int64, now time.Time) ([]portal.Session, error) {
	rows, err := query(ctx, d.pool, `SELECT `+rowmap.SessionColumns+` FROM sessions s
		WHERE s.user_id = $1 AND s.expires_at > $2 ORDER BY s.last_seen_at DESC, s.created_at DESC`, userID, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list sessions", rowmap.Value(func(row rowmap.Row) (*portal.Session, error) { return rowmap.ScanSession(row) }))
}

// EndSession ends one of a user's sessions: ErrNotFound when the user has
// no such session (another user's is not theirs to end).
func (d *DB) EndSession(ctx context.Context, userID int64, id oauth.Hash) error {
	tag, err := d.exec(ctx, `DELETE FROM sessions WHERE id_hash = $1 AND user_id = $2`, id[:], userID)
	return oneRow(tag, err, "end session")
}

// EndOtherSessions ends every session of a user but keep (the zero hash:
// every one) and returns how many ended.
func (d *DB) EndOtherSessions(ctx context.Context, userID int64, keep oauth.Hash) (int64, error) {
	tag, err := d.exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2`, userID, keep[:])
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ChangePassword gives a user a new password hash and voids their reset
// links. With endAccess it ends, in the same transaction, what the old
// password may have let someone else hold: every session of the user but
// keep (the zero hash: every one), and the tokens of the password grant
// with their refresh chains. Tokens the user granted at the consent page
// stay: they are managed on Authorized Apps. ErrNotFound for no such user. The access generation is locked first
// (lockAccess), as always before the rows it guards.
func (d *DB) ChangePassword(ctx context.Context, userID int64, passwordHash string, keep oauth.Hash, endAccess bool) (portal.Ended, error) {
	var ended portal.Ended
	err := d.tokenTx(ctx, func(tx pgx.Tx) error {
		if err := lockAccess(ctx, tx); err != nil {
			return err
		}
		tag, err := exec(ctx, tx, `UPDATE users SET password_hash = $1 WHERE id = $2`, passwordHash, userID)
		if err := oneRow(tag, err, fmt.Sprintf("user %d", userID)); err != nil {
			return err
		}
		if !endAccess {
			return voidResetLinks(ctx, tx, userID)
		}
		ended, err = d.endPasswordAccess(ctx, tx, userID, keep)
		return err
	})
	if err != nil {
		return portal.Ended{}, fmt.Errorf("change password: %w", err)
	}
	return ended, nil
}

// endPasswordAccess ends, in tx, what a password gave: a user's sessions but
// keep, the tokens of the user's password grants (those issued by the
// grant, and every token of their refresh chains) and the user's reset
// links.
func (d *DB) endPasswordAccess(ctx context.Context, tx pgx.Tx, userID int64, keep oauth.Hash) (portal.Ended, error) {
	var ended portal.Ended
	tag, err := exec(ctx, tx, `DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2`, userID, keep[:])
	if err != nil {
		return ended, fmt.Errorf("end sessions: %w", err)
	}
	ended.Sessions = tag.RowsAffected()
	ended.Tokens, err = d.execTokens(ctx, tx, `UPDATE {tokens} SET revoked = true WHERE user_id = $1 AND NOT revoked
		AND (grant_type = $2 OR family_id IN (SELECT family_id FROM {tokens} WHERE user_id = $1 AND grant_type = $2))`,
		userID, oauth.GrantPassword)
	if err != nil {
		return ended, fmt.Errorf("revoke tokens: %w", err)
	}
	return ended, voidResetLinks(ctx, tx, userID)
}

// voidResetLinks deletes, in tx, the reset links of a user.
func voidResetLinks(ctx context.Context, tx pgx.Tx, userID int64) error {
	if _, err := exec(ctx, tx, `DELETE FROM password_resets WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("void reset links: %w", err)
	}
	return nil
}

// SetEmail changes a user's email address; ErrNotFound for no such user.
func (d *DB) SetEmail(ctx context.Context, userID int64, email string) error {
	tag, err := d.exec(ctx, `UPDATE users SET email = $1 WHERE id = $2`, email, userID)
	return oneRow(tag, err, fmt.Sprintf("set email of user %d", userID))
}

// CountUsersWithRole counts the enabled users of a tenant (0: of every
// tenant) holding a role (none hold "").
func (d *DB) CountUsersWithRole(ctx context.Context, tenantID int64, role string) (int, error) {
	var n int
	if err := queryRow(ctx, d.pool, `SELECT count(*) FROM users
		WHERE $1 <> '' AND position(' ' || $1 || ' ' IN ' ' || roles || ' ') > 0 AND disabled_at IS NULL
			AND ($2::bigint = 0 OR tenant_id = $2)`,
		role, tenantID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users with role %s: %w", role, err)
	}
	return n, nil
}

// CreatePasswordReset stores a reset link's token hash for a user until
// expires; expired links are swept out on the way.
func (d *DB) CreatePasswordReset(ctx context.Context, token oauth.Hash, userID int64, now, expires time.Time) error {
	return d.storeExpiring(ctx, rowmap.Resets, token, userID, now, expires)
}

// PasswordResetUser returns the user a reset link is good for, or
// ErrNotFound when the link is unknown, used or expired by now.
func (d *DB) PasswordResetUser(ctx context.Context, token oauth.Hash, now time.Time) (*portal.User, error) {
	return d.expiringUser(ctx, rowmap.Resets, token, now)
}

// ResetPassword uses a reset link: in one transaction the link goes, the
// user gets the new password hash and, as with ChangePassword, every
// session of the user, every token of the password grant and the user's
// other links end; so does every token with a refresh token, the consent
// page's too (a reset is how an account taken over is taken back). ErrNotFound when the link is unknown, used or expired
// by now: of two uses of one link, one wins (the DELETE takes its row).
// The access generation is locked first (lockAccess).
func (d *DB) ResetPassword(ctx context.Context, token oauth.Hash, passwordHash string, now time.Time) (*portal.User, portal.Ended, error) {
	var u *portal.User
	var ended portal.Ended
	err := d.tokenTx(ctx, func(tx pgx.Tx) error {
		if err := lockAccess(ctx, tx); err != nil {
			return err
		}
		var userID int64
		if err := tx.QueryRow(ctx, `DELETE FROM password_resets WHERE token_hash = $1 AND expires_at > $2 RETURNING user_id`,
			token[:], now.UnixMilli()).Scan(&userID); err != nil {
			return notFound("reset link", err)
		}
		tag, err := exec(ctx, tx, `UPDATE users SET password_hash = $1 WHERE id = $2`, passwordHash, userID)
		if err := oneRow(tag, err, fmt.Sprintf("user %d", userID)); err != nil {
			return err
		}
		if ended, err = d.endPasswordAccess(ctx, tx, userID, oauth.Hash{}); err != nil {
			return err
		}
		n, err := d.execTokens(ctx, tx, `UPDATE {tokens} SET revoked = true WHERE user_id = $1 AND NOT revoked AND refresh_hash IS NOT NULL`, userID)
		if err != nil {
			return fmt.Errorf("revoke refresh tokens: %w", err)
		}
		ended.Tokens += n
		u, err = rowmap.ScanUser(tx.QueryRow(ctx, `SELECT `+rowmap.UserColumns+` FROM users WHERE id = $1`, userID))
		return err
	})
	if err != nil {
		return nil, portal.Ended{}, fmt.Errorf("reset password: %w", err)
	}
	return u, ended, nil
}

// UsersByEmail returns the users with an email address, in any case, by
// username (at most 10: an address shared by more is no one's to reset).
func (d *DB) UsersByEmail(ctx context.Context, email string) ([]portal.User, error) {
	if email == "" || !textOK(email) {
		return nil, nil
	}
	rows, err := query(ctx, d.pool, `SELECT `+rowmap.UserColumns+` FROM users WHERE lower(email) = lower($1 COLLATE "C")
		ORDER BY lower(username), username LIMIT 10`, email)
	if err != nil {
		return nil, fmt.Errorf("users by email: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "users by email", rowmap.Value(rowmap.ScanUser))
}

// DisableUser disables an account at a time and, in the same transaction,
// ends everything it gave: its sessions, its unused reset links, every
// token issued for the user or to the keys of the user's applications (for
// anyone), and the unused codes of either. Disabling a disabled account
// changes nothing (Ended is zero). ErrNotFound for no such user. The
// access generation is locked first (lockAccess).
func (d *DB) DisableUser(ctx context.Context, username string, at time.Time) (*portal.User, portal.Ended, error) {
	var u *portal.User
	var ended portal.Ended
	if !textOK(username) { // no such user can exist
		return nil, ended, fmt.Errorf("disable user %s: %w", username, portal.ErrNotFound)
	}
	err := d.tokenTx(ctx, func(tx pgx.Tx) error {
		ended = portal.Ended{}
		if err := lockAccess(ctx, tx); err != nil {
			return err
		}
		tag, err := exec(ctx, tx, `UPDATE users SET disabled_at = $1 WHERE `+byUsername2+` AND disabled_at IS NULL`,
			at.UnixMilli(), username)
		if err != nil {
			return err
		}
		if u, err = rowmap.ScanUser(tx.QueryRow(ctx, `SELECT `+rowmap.UserColumns+` FROM users WHERE `+byUsername, username)); err != nil {
			return notFound("user "+username, err)
		}
		if tag.RowsAffected() == 0 {
			return nil // disabled already
		}
		if tag, err = exec(ctx, tx, `DELETE FROM sessions WHERE user_id = $1`, u.ID); err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		ended.Sessions = tag.RowsAffected()
		keys := `(SELECT k.id FROM consumer_keys k JOIN applications a ON a.id = k.app_id WHERE a.owner_id = $1)`
		if ended.Tokens, err = d.execTokens(ctx, tx, `UPDATE {tokens} SET revoked = true WHERE NOT revoked AND (user_id = $1 OR key_id IN `+keys+`)`,
			u.ID); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		if _, err := exec(ctx, tx, `DELETE FROM codes WHERE NOT used AND (user_id = $1 OR key_id IN `+keys+`)`, u.ID); err != nil {
			return fmt.Errorf("delete codes: %w", err)
		}
		if _, err := exec(ctx, tx, `DELETE FROM password_resets WHERE user_id = $1`, u.ID); err != nil {
			return fmt.Errorf("void reset links: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, portal.Ended{}, fmt.Errorf("disable user: %w", err)
	}
	return u, ended, nil
}

// byUsername2 is byUsername for a username given as $2.
const byUsername2 = `lower(username) = lower($2 COLLATE "C")`

// EnableUser enables a disabled account (an enabled one stays so). What
// disabling ended stays ended: the user logs in and gets tokens anew.
// ErrNotFound for no such user.
func (d *DB) EnableUser(ctx context.Context, username string) (*portal.User, error) {
	if !textOK(username) {
		return nil, fmt.Errorf("enable user %s: %w", username, portal.ErrNotFound)
	}
	var u *portal.User
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if _, err := exec(ctx, tx, `UPDATE users SET disabled_at = NULL WHERE `+byUsername+` AND disabled_at IS NOT NULL`,
			username); err != nil {
			return err
		}
		var err error
		if u, err = rowmap.ScanUser(tx.QueryRow(ctx, `SELECT `+rowmap.UserColumns+` FROM users WHERE `+byUsername, username)); err != nil {
			return notFound("user "+username, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("enable user: %w", err)
	}
	return u, nil
}

// ListUsers returns the users whose username or email address holds filter
// (any case; "": every user), by username, at most limit of them: of one
// tenant, or of every tenant when tenantID is 0.
func (d *DB) ListUsers(ctx context.Context, tenantID int64, filter string, limit int) ([]portal.User, error) {
	if !textOK(filter) {
		return nil, nil
	}
	rows, err := query(ctx, d.pool, `SELECT `+rowmap.UserColumns+` FROM users
		WHERE ($3::bigint = 0 OR tenant_id = $3)
			AND ($1 = '' OR position(lower($1 COLLATE "C") IN lower(username)) > 0 OR position(lower($1 COLLATE "C") IN lower(email)) > 0)
		ORDER BY lower(username), username LIMIT $2`, filter, limit, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list users", rowmap.Value(rowmap.ScanUser))
}

// RecentLoginCounts returns the brute-force counters whose last failure was
// at or after since, the latest first, at most limit of them (Pending is
// not counted).
func (d *DB) RecentLoginCounts(ctx context.Context, since time.Time, limit int) ([]portal.LoginCount, error) {
	rows, err := query(ctx, d.pool, `SELECT key, failures, last_failure FROM login_counts
		WHERE last_failure >= $1 ORDER BY last_failure DESC, key LIMIT $2`, since.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("recent login counts: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "recent login counts", rowmap.LoginCount)
}
