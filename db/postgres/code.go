package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
)

// CreateCode stores a new authorization code.
func (d *DB) CreateCode(ctx context.Context, c *oauth.Code) error {
	_, err := d.exec(ctx, `INSERT INTO codes (hash, key_id, user_id, redirect_uri, scopes, challenge,
		challenge_method, issued_at, expires_at, dpop_jkt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10::text, ''))`,
		c.Hash[:], c.KeyID, c.UserID, c.RedirectURI, joinWords(c.Scopes), c.Challenge, c.ChallengeMethod,
		c.IssuedAt.UnixMilli(), c.ExpiresAt.UnixMilli(), c.DPoPJKT)
	if err != nil {
		return fmt.Errorf("create code: %w", err)
	}
	return nil
}

// CodeByHash returns the authorization code hashing to h.
func (d *DB) CodeByHash(ctx context.Context, h oauth.Hash) (*oauth.Code, error) {
	c, err := rowmap.ScanCode(queryRow(ctx, d.pool, `SELECT `+rowmap.CodeColumns+` FROM codes WHERE hash = $1`, h[:]), h)
	if err != nil {
		return nil, notFound("authorization code", err)
	}
	return c, nil
}

// RedeemCode marks a code used and stores the token issued for it in one
// transaction; of concurrent exchanges of one code only one succeeds.
func (d *DB) RedeemCode(ctx context.Context, h oauth.Hash, t *oauth.Token) error {
	return d.spendAndIssue(ctx, "redeem code", oauth.ErrCodeUsed, t, nil,
		`UPDATE codes SET used = true, family_id = $1 WHERE hash = $2 AND NOT used`, t.FamilyID[:], h[:])
}

// DeleteStaleCodes removes expired codes, except used ones whose tokens
// still exist: a replay of those must still revoke them.
func (d *DB) DeleteStaleCodes(ctx context.Context, now time.Time) (int64, error) {
	tag, err := d.tokenExec(ctx, `DELETE FROM codes WHERE expires_at <= $1
		AND (NOT used OR NOT EXISTS (SELECT 1 FROM `+d.parts().AllOrDefault()+` t WHERE t.access_hash = codes.family_id
			OR (t.family_id = codes.family_id AND t.family_id <> t.access_hash)))`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete stale codes: %w", err)
	}
	return tag.RowsAffected(), nil
}
