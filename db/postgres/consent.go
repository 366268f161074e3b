package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// consentLock is the first key of the advisory locks SaveConsent takes per
// user and application ("cons" in ASCII).
const consentLock int32 = 0x636f6e73

// lockConsent makes the changes of one user's consent to one application
// take turns, as SQLite's single writer does: SaveConsent reads the scopes
// granted before and extends them in Go, and must not drop what a
// concurrent approval added, nor bring back what a revocation removed.
func lockConsent(ctx context.Context, tx pgx.Tx, userID, appID int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, consentLock, lockKey(fmt.Sprintf("%d/%d", userID, appID)))
	return err
}

// SaveConsent records an approval. Its scopes join those granted before; if
// it is to be remembered, it replaces the remembered approval, else that
// stays as it was.
func (d *DB) SaveConsent(ctx context.Context, c *portal.Consent) error {
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if err := lockConsent(ctx, tx, c.UserID, c.AppID); err != nil {
			return err
		}
		var before string
		err := queryRow(ctx, tx, `SELECT scopes FROM consents WHERE user_id = $1 AND app_id = $2`, c.UserID, c.AppID).Scan(&before)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		scopes := joinWords(c.Scopes)
		_, err = exec(ctx, tx, `INSERT INTO consents (user_id, app_id, scopes, remember, remembered_scopes, approved_at)
			VALUES ($1, $2, $3, $4::boolean, CASE WHEN $4::boolean THEN $5::text ELSE '' END, $6) ON CONFLICT (user_id, app_id) DO UPDATE
			SET scopes = excluded.scopes, approved_at = excluded.approved_at,
				remember = excluded.remember OR consents.remember,
				remembered_scopes = CASE WHEN excluded.remember THEN excluded.remembered_scopes ELSE consents.remembered_scopes END`,
			c.UserID, c.AppID, rowmap.Granted(before, c.Scopes), c.Remember, scopes, c.ApprovedAt.UnixMilli())
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
	err := queryRow(ctx, d.pool, `SELECT remembered_scopes FROM consents WHERE user_id = $1 AND app_id = $2 AND remember`,
		userID, appID).Scan(&scopes)
	if err != nil {
		return nil, notFound("consent", err)
	}
	return words(scopes), nil
}

// Consents lists the applications the user has approved, by name (ignoring
// case, as SQLite's NOCASE).
func (d *DB) Consents(ctx context.Context, userID int64) ([]portal.Consent, error) {
	rows, err := query(ctx, d.pool, `SELECT c.app_id, a.name, u.username, c.scopes, c.remember, c.approved_at
		FROM consents c JOIN applications a ON a.id = c.app_id JOIN users u ON u.id = a.owner_id
		WHERE c.user_id = $1 ORDER BY lower(a.name), a.id`, userID)
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
// had not approved the application. The access generation is locked first
// (lockAccess): the consent's row is locked before the tokens' revocation
// would take it.
func (d *DB) RevokeConsent(ctx context.Context, userID, appID int64) error {
	err := d.tokenTx(ctx, func(tx pgx.Tx) error {
		if err := lockAccess(ctx, tx); err != nil {
			return err
		}
		if err := lockConsent(ctx, tx, userID, appID); err != nil {
			return err
		}
		tag, err := exec(ctx, tx, `DELETE FROM consents WHERE user_id = $1 AND app_id = $2`, userID, appID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return portal.ErrNotFound
		}
		keys := `(SELECT id FROM consumer_keys WHERE app_id = $2)`
		if _, err := d.execTokens(ctx, tx, `UPDATE {tokens} SET revoked = true WHERE user_id = $1 AND key_id IN `+keys+`
			AND grant_type <> $3`, userID, appID, oauth.GrantClientCredentials); err != nil {
			return err
		}
		_, err = exec(ctx, tx, `DELETE FROM codes WHERE user_id = $1 AND NOT used AND key_id IN `+keys, userID, appID)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke consent: %w", err)
	}
	return nil
}
