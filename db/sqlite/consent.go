package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// SaveConsent records an approval. Its scopes join those granted before; if
// it is to be remembered, it replaces the remembered approval, else that
// stays as it was.
func (d *DB) SaveConsent(ctx context.Context, c *portal.Consent) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var before string
		err := tx.QueryRowContext(ctx, `SELECT scopes FROM consents WHERE user_id = ? AND app_id = ?`, c.UserID, c.AppID).Scan(&before)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		scopes := joinWords(c.Scopes)
		_, err = tx.ExecContext(ctx, `INSERT INTO consents (user_id, app_id, scopes, remember, remembered_scopes, approved_at)
			VALUES (?, ?, ?, ?, CASE WHEN ? THEN ? ELSE '' END, ?) ON CONFLICT (user_id, app_id) DO UPDATE
			SET scopes = excluded.scopes, approved_at = excluded.approved_at,
				remember = CASE WHEN ? THEN 1 ELSE remember END,
				remembered_scopes = CASE WHEN ? THEN ? ELSE remembered_scopes END`,
			c.UserID, c.AppID, rowmap.Granted(before, c.Scopes), c.Remember, c.Remember, scopes, c.ApprovedAt.UnixMilli(),
			c.Remember, c.Remember, scopes)
		return err
	})
	if err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	return nil
}

// RememberedScopes returns the scopes of a remembered approval of the
// application by the user, or ErrNotFound when there is none.
func (d *DB) RememberedScopes(ctx context.Context, userID, appID int64) ([]string, error) {
	var scopes string
	err := d.r.QueryRowContext(ctx, `SELECT remembered_scopes FROM consents WHERE user_id = ? AND app_id = ? AND remember = 1`,
		userID, appID).Scan(&scopes)
	if err != nil {
		return nil, notFound("consent", err)
	}
	return words(scopes), nil
}

// Consents lists the applications the user has approved, by name.
func (d *DB) Consents(ctx context.Context, userID int64) ([]portal.Consent, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT c.app_id, a.name, u.username, c.scopes, c.remember, c.approved_at
		FROM consents c JOIN applications a ON a.id = c.app_id JOIN users u ON u.id = a.owner_id
		WHERE c.user_id = ? ORDER BY a.name COLLATE NOCASE, a.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list consents", rowmap.Consent(userID))
}

// RevokeConsent withdraws the user's approval of an application at once: the
// consent is forgotten, the user's tokens for the application's keys are
// revoked (application tokens of client_credentials are not the user's
// grant and stay) and its unused codes are deleted. ErrNotFound when the user
// had not approved the application.
func (d *DB) RevokeConsent(ctx context.Context, userID, appID int64) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM consents WHERE user_id = ? AND app_id = ?`, userID, appID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return portal.ErrNotFound
		}
		keys := `(SELECT id FROM consumer_keys WHERE app_id = ?)`
		if _, err := d.execTokens(ctx, tx, `UPDATE {tokens} SET revoked = 1 WHERE user_id = ? AND key_id IN `+keys+`
			AND grant_type <> ?`, userID, appID, oauth.GrantClientCredentials); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM codes WHERE user_id = ? AND used = 0 AND key_id IN `+keys, userID, appID)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke consent: %w", err)
	}
	return nil
}
