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

// KeysOfApplication returns an application's keys, production first. The
// newest application token is found by walking the key's tokens newest
// first on the tokens_key index (key_id, id; migration 0003).
func (d *DB) KeysOfApplication(ctx context.Context, appID int64) ([]portal.Key, error) {
	all := d.parts().AllOrDefault()
	rows, err := query(ctx, d.pool, `SELECT k.id, k.app_id, k.key_type, k.consumer_key, k.grant_types, k.callback_url,
		k.app_token_validity, k.created_at,
		EXISTS (SELECT 1 FROM `+all+` t WHERE t.key_id = k.id AND t.grant_type = $1 AND NOT t.revoked),
		(SELECT t.expires_at FROM `+all+` t WHERE t.key_id = k.id AND t.grant_type = $1 AND NOT t.revoked
			ORDER BY t.id DESC LIMIT 1)
		FROM consumer_keys k WHERE k.app_id = $2 ORDER BY k.key_type`,
		oauth.GrantClientCredentials, appID)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list keys", rowmap.Key)
}

// ReplaceSecret gives a key a new secret (its hash) and revokes every token
// issued to the key, in one transaction: a regenerated secret is how a
// developer answers a leaked one, so nothing obtained with the old secret
// may keep working (as WSO2 revokes an application's tokens then). The
// key's row is locked FOR UPDATE, so that no token checked against the old
// secret is stored after the revocation (see insertToken); the access
// generation first, as always (lockAccess).
func (d *DB) ReplaceSecret(ctx context.Context, keyID int64, secret oauth.Hash) error {
	return d.tokenTx(ctx, func(tx pgx.Tx) error {
		what := fmt.Sprintf("replace secret of key %d", keyID)
		if err := lockAccess(ctx, tx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		tag, err := exec(ctx, tx, `SELECT 1 FROM consumer_keys WHERE id = $1 FOR UPDATE`, keyID)
		if err := oneRow(tag, err, what); err != nil {
			return err
		}
		if _, err := exec(ctx, tx, `UPDATE consumer_keys SET secret_hash = $1 WHERE id = $2`, secret[:], keyID); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if _, err := d.execTokens(ctx, tx, `UPDATE {tokens} SET revoked = true WHERE key_id = $1 AND NOT revoked`, keyID); err != nil {
			return fmt.Errorf("revoke tokens of key %d: %w", keyID, err)
		}
		return nil
	})
}

// RevokeApplicationTokens revokes every application (client_credentials)
// token of a key, before the store issues its replacement.
func (d *DB) RevokeApplicationTokens(ctx context.Context, keyID int64) error {
	if err := d.tokenTx(ctx, func(tx pgx.Tx) error {
		_, err := d.execTokens(ctx, tx, `UPDATE {tokens} SET revoked = true WHERE key_id = $1 AND grant_type = $2 AND NOT revoked`,
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
	tag, err := d.exec(ctx, `UPDATE consumer_keys SET grant_types = $1, callback_url = $2, app_token_validity = $3 WHERE id = $4`,
		joinWords(grantTypes), callbackURL, seconds(appTokenValidity), keyID)
	return oneRow(tag, err, fmt.Sprintf("update key %d", keyID))
}
