package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// KeysOfApplication returns an application's keys, production first. The
// newest application token is the last one stored: walking the key's index
// back from the end finds it at once, where ordering by issued_at read every
// token of the key (a quarter of a second with 1,000,000).
func (d *DB) KeysOfApplication(ctx context.Context, appID int64) ([]portal.Key, error) {
	all := d.parts().AllOrDefault()
	rows, err := d.r.QueryContext(ctx, `SELECT k.id, k.app_id, k.key_type, k.consumer_key, k.grant_types, k.callback_url,
		k.app_token_validity, k.created_at,
		EXISTS (SELECT 1 FROM `+all+` t WHERE t.key_id = k.id AND t.grant_type = ? AND t.revoked = 0),
		(SELECT t.expires_at FROM `+all+` t WHERE t.key_id = k.id AND t.grant_type = ? AND t.revoked = 0
			ORDER BY t.id DESC LIMIT 1)
		FROM consumer_keys k WHERE k.app_id = ? ORDER BY k.key_type`,
		oauth.GrantClientCredentials, oauth.GrantClientCredentials, appID)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list keys", rowmap.Key)
}

// ReplaceSecret gives a key a new secret (its hash) and revokes every token
// issued to the key, in one transaction: a regenerated secret is how a
// developer answers a leaked one, so nothing obtained with the old secret
// may keep working (as WSO2 revokes an application's tokens then).
func (d *DB) ReplaceSecret(ctx context.Context, keyID int64, secret oauth.Hash) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE consumer_keys SET secret_hash = ? WHERE id = ?`, secret[:], keyID)
		if err := oneRow(res, err, fmt.Sprintf("replace secret of key %d", keyID)); err != nil {
			return err
		}
		if _, err := d.execTokens(ctx, tx, `UPDATE {tokens} SET revoked = 1 WHERE key_id = ? AND revoked = 0`, keyID); err != nil {
			return fmt.Errorf("revoke tokens of key %d: %w", keyID, err)
		}
		return nil
	})
	return err
}

// RevokeApplicationTokens revokes every application (client_credentials)
// token of a key, before the store issues its replacement.
func (d *DB) RevokeApplicationTokens(ctx context.Context, keyID int64) error {
	if err := d.tx(ctx, func(tx *sql.Tx) error {
		_, err := d.execTokens(ctx, tx, `UPDATE {tokens} SET revoked = 1 WHERE key_id = ? AND grant_type = ? AND revoked = 0`,
			keyID, oauth.GrantClientCredentials)
		return err
	}); err != nil {
		return fmt.Errorf("revoke application tokens of key %d: %w", keyID, err)
	}
	return nil
}

// UpdateKeySettings saves a key's allowed grant types, callback URL and
// application token validity. Narrowing the grants can end access, so the
// access generation moves.
func (d *DB) UpdateKeySettings(ctx context.Context, keyID int64, grantTypes []string, callbackURL string, appTokenValidity time.Duration) error {
	res, err := d.w.ExecContext(ctx, `UPDATE consumer_keys SET grant_types = ?, callback_url = ?, app_token_validity = ? WHERE id = ?`,
		joinWords(grantTypes), callbackURL, seconds(appTokenValidity), keyID)
	return oneRow(res, err, fmt.Sprintf("update key %d", keyID))
}
