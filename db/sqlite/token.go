package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/partition"
	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
)

// CreateToken stores a new token, in the writer's next group commit.
func (d *DB) CreateToken(ctx context.Context, t *oauth.Token) error {
	return d.write(ctx, func(tx *sql.Tx) error {
		return storeToken(d, tx, "create token", t)
	})
}

// insertToken stores a token unless ?11, the secret hash its request was
// authenticated against, is given and no longer the key's: the secret was
// regenerated (ReplaceSecret) after the request read it, and the token must
// not outlive the revocation that went with it.
// The default table's is prepared (writeQueries); a partition's is
// partition.On(insertTokenIn, its table).
const insertTokenIn = `INSERT INTO {tokens} (access_hash, refresh_hash, family_id, key_id, user_id, scopes, grant_type,
	issued_at, expires_at, refresh_expires_at, cert_thumbprint, jkt, partition) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, NULLIF(?13, ''), NULLIF(?14, '')
	WHERE ?11 IS NULL OR EXISTS (SELECT 1 FROM consumer_keys WHERE id = ?4 AND secret_hash = ?11)`

var insertToken = partition.On(insertTokenIn, "tokens")

// storeToken runs insertToken in tx: oauth.ErrSecretReplaced when the
// key's secret changed.
func storeToken(d *DB, tx *sql.Tx, what string, t *oauth.Token) error {
	q := insertToken
	if table := d.parts().Table(t.Partition); table != partition.Default {
		q = partition.On(insertTokenIn, table)
	}
	res, err := d.txExec(tx, q, rowmap.TokenArgs(t)...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return fmt.Errorf("%s: %w", what, oauth.ErrSecretReplaced)
	}
	return nil
}

// AccessToken returns the token with its key, application and user; a
// token of a disabled user, or issued to a key of a disabled user's
// application, is not found.
func (d *DB) AccessToken(ctx context.Context, h oauth.Hash) (*oauth.TokenInfo, error) {
	return d.tokenInfo(ctx, "access token", `t.access_hash = ?`, h)
}

// RefreshTokenInfo is AccessToken for the token whose refresh token hashes to h.
func (d *DB) RefreshTokenInfo(ctx context.Context, h oauth.Hash) (*oauth.TokenInfo, error) {
	return d.tokenInfo(ctx, "refresh token", `t.refresh_hash = ?`, h)
}

func (d *DB) tokenInfo(ctx context.Context, what, where string, h oauth.Hash) (*oauth.TokenInfo, error) {
	var info oauth.TokenInfo
	var keyType string
	dest, finish := rowmap.TokenDest(&info.Token)
	dest = append(dest, &info.ConsumerKey, &keyType, &info.AppID, &info.AppName, &info.Username, &info.Tenant)
	partition, err := d.parts().Lookup(ctx, stringsOn(ctx, d.r), h, noRows, func(table string) error {
		return d.queryRow(ctx, `SELECT `+rowmap.TokenColumns+`, k.consumer_key, k.key_type, a.id, a.name, u.username, tn.domain
		FROM `+table+` t JOIN consumer_keys k ON k.id = t.key_id JOIN applications a ON a.id = k.app_id
		JOIN users u ON u.id = t.user_id JOIN users o ON o.id = a.owner_id
		JOIN tenants tn ON tn.id = u.tenant_id AND tn.active = 1
		WHERE u.disabled_at IS NULL AND o.disabled_at IS NULL AND `+where, h[:]).Scan(dest...)
	})
	if err != nil {
		return nil, notFound(what, err)
	}
	finish()
	info.Partition = partition
	info.KeyType = oauth.KeyType(keyType)
	info.Username = oauth.FullUsername(info.Username, info.Tenant)
	return &info, nil
}

// RefreshToken returns the token whose refresh token hashes to h.
func (d *DB) RefreshToken(ctx context.Context, h oauth.Hash) (*oauth.Token, error) {
	var t oauth.Token
	dest, finish := rowmap.TokenDest(&t)
	partition, err := d.parts().Lookup(ctx, stringsOn(ctx, d.r), h, noRows, func(table string) error {
		return d.queryRow(ctx, `SELECT `+rowmap.TokenColumns+` FROM `+table+` t WHERE t.refresh_hash = ?`, h[:]).Scan(dest...)
	})
	if err != nil {
		return nil, notFound("refresh token", err)
	}
	finish()
	t.Partition = partition
	return &t, nil
}

// RotateRefresh marks a refresh token used and stores its successor in one
// transaction; of two concurrent rotations of one token only one succeeds.
func (d *DB) RotateRefresh(ctx context.Context, used oauth.Hash, next *oauth.Token) error {
	return d.spendAndIssue(ctx, "rotate refresh token", oauth.ErrRefreshUsed, next, nil, d.rotateRefresh(next), used[:])
}

// RotateRefreshKeeping is RotateRefresh that stores the sealed answer in
// the same transaction (migration 0101).
func (d *DB) RotateRefreshKeeping(ctx context.Context, used oauth.Hash, next *oauth.Token, kept *oauth.KeptAnswer) error {
	return d.spendAndIssue(ctx, "rotate refresh token", oauth.ErrRefreshUsed, next, func(tx *sql.Tx) error {
		_, err := d.txExec(tx, `INSERT INTO refresh_answers (refresh_hash, sealed, keep_until) VALUES (?, ?, ?)`,
			kept.Used[:], kept.Sealed, kept.KeepUntil.UnixMilli())
		return err
	}, d.rotateRefresh(next), used[:])
}

// KeptAnswer returns the sealed answer kept for the refresh token hashing to used.
func (d *DB) KeptAnswer(ctx context.Context, used oauth.Hash) (*oauth.KeptAnswer, error) {
	a := oauth.KeptAnswer{Used: used}
	var until int64
	if err := d.queryRow(ctx, `SELECT sealed, keep_until FROM refresh_answers WHERE refresh_hash = ?`, used[:]).Scan(&a.Sealed, &until); err != nil {
		return nil, notFound("kept refresh answer", err)
	}
	a.KeepUntil = time.UnixMilli(until)
	return &a, nil
}

// DeleteStaleKeptAnswers drops the refresh answers whose grace period has
// ended by now.
func (d *DB) DeleteStaleKeptAnswers(ctx context.Context, now time.Time) (int64, error) {
	res, err := d.w.ExecContext(ctx, `DELETE FROM refresh_answers WHERE keep_until <= ?`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete stale refresh answers: %w", err)
	}
	return res.RowsAffected()
}

const rotateRefreshIn = `UPDATE {tokens} SET refresh_used = 1 WHERE refresh_hash = ? AND refresh_used = 0 AND revoked = 0`

var rotateRefresh = partition.On(rotateRefreshIn, "tokens")

// rotateRefresh returns the statement that spends the refresh token next
// succeeds: in next's partition, where its chain is.
func (d *DB) rotateRefresh(next *oauth.Token) string {
	if table := d.parts().Table(next.Partition); table != partition.Default {
		return partition.On(rotateRefreshIn, table)
	}
	return rotateRefresh
}

// spendAndIssue runs an update that marks a one-time grant (refresh token,
// authorization code) used and, when it changed exactly one row, stores the
// token issued for it, then runs then (when not nil) in the same
// transaction; otherwise the grant was spent already: errSpent.
func (d *DB) spendAndIssue(ctx context.Context, what string, errSpent error, t *oauth.Token, then func(*sql.Tx) error, update string, args ...any) error {
	return d.write(ctx, func(tx *sql.Tx) error {
		res, err := d.txExec(tx, update, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errSpent
		}
		if err := storeToken(d, tx, what, t); err != nil || then == nil {
			return err
		}
		if err := then(tx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
}

// inFamily matches the tokens of the chain ?1 in a way that can use both
// the access_hash index (the first token) and the partial family index (the
// rest; see migration 0003).
const inFamily = `(access_hash = ?1 OR (family_id = ?1 AND family_id != access_hash))`

// RevokeFamily revokes every token of a refresh chain.
func (d *DB) RevokeFamily(ctx context.Context, family oauth.Hash) error {
	table, err := d.parts().HashTable(ctx, stringsOn(ctx, d.r), family)
	if err != nil {
		return fmt.Errorf("revoke token family: %w", err)
	}
	if _, err := d.w.ExecContext(ctx, `UPDATE `+table+` SET revoked = 1 WHERE `+inFamily, family[:]); err != nil {
		return fmt.Errorf("revoke token family: %w", err)
	}
	return nil
}

// RevokeToken revokes one access token and the refresh token issued with it.
func (d *DB) RevokeToken(ctx context.Context, access oauth.Hash) error {
	table, err := d.parts().HashTable(ctx, stringsOn(ctx, d.r), access)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if _, err := d.w.ExecContext(ctx, `UPDATE `+table+` SET revoked = 1 WHERE access_hash = ?`, access[:]); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// usedRefreshRetention is how long a used refresh token is kept, when it
// would never expire, to recognise a replay: without a bound, a chain of
// never-expiring refresh tokens would grow by a row at every refresh. A
// replay after it is refused as an unknown token, without revoking the chain.
const usedRefreshRetention = 90 * 24 * time.Hour

// tokenCleanupChunk is how many token ids one DELETE of DeleteStaleTokens
// covers (a variable for tests).
var tokenCleanupChunk int64 = 5000

// DeleteStaleTokens removes revoked tokens and tokens whose access and
// refresh tokens have both expired. Used refresh tokens stay until they
// expire, so that a replay is still recognised and revokes its chain; those
// that never expire, for usedRefreshRetention after they were issued.
//
// It deletes a range of ids at a time, each in its own short statement: one
// statement over a table of millions of tokens would hold the write lock,
// and stall /token, for as long as it takes.
func (d *DB) DeleteStaleTokens(ctx context.Context, now time.Time) (int64, error) {
	p := d.parts()
	total, err := p.Sum(func(table string) (int64, error) { return d.deleteStaleTokens(ctx, table, now) })
	if err == nil && p.Forwards {
		if _, err := d.w.ExecContext(ctx, p.StaleForwards()); err != nil {
			return total, fmt.Errorf("delete stale token forwards: %w", err)
		}
	}
	return total, err
}

// deleteStaleTokens is DeleteStaleTokens on one partition's table.
func (d *DB) deleteStaleTokens(ctx context.Context, table string, now time.Time) (int64, error) {
	var lo, hi sql.NullInt64
	if err := d.w.QueryRowContext(ctx, `SELECT min(id), max(id) FROM `+table).Scan(&lo, &hi); err != nil {
		return 0, fmt.Errorf("delete stale tokens: %w", err)
	}
	var total int64
	for from := lo.Int64; lo.Valid && from <= hi.Int64; from += tokenCleanupChunk {
		res, err := d.w.ExecContext(ctx, `DELETE FROM `+table+` WHERE id >= ?3 AND id < ?4 AND (revoked = 1
			OR (expires_at IS NOT NULL AND expires_at <= ?1
			    AND (refresh_hash IS NULL OR (refresh_expires_at IS NOT NULL AND refresh_expires_at <= ?1)
			         OR (refresh_used = 1 AND refresh_expires_at IS NULL AND issued_at <= ?2))))`,
			now.UnixMilli(), now.Add(-usedRefreshRetention).UnixMilli(), from, from+tokenCleanupChunk)
		if err != nil {
			return total, fmt.Errorf("delete stale tokens: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("delete stale tokens: %w", err)
		}
		total += n
	}
	return total, nil
}

// CreateTokens stores many tokens in one transaction, for bulk loads such as
// the benchmark's preloaded database.
func (d *DB) CreateTokens(ctx context.Context, tokens []*oauth.Token) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range tokens {
			if err := storeToken(d, tx, "create tokens", t); err != nil {
				return err
			}
		}
		return nil
	})
}
