package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/apistore/apistore/db/internal/partition"
	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
)

// CreateToken stores a new token; ErrSecretReplaced when t.SecretHash is
// set and no longer the key's secret.
func (d *DB) CreateToken(ctx context.Context, t *oauth.Token) error {
	tag, err := d.tokenExec(ctx, d.insertToken(t), rowmap.TokenArgs(t)...)
	return tokenStored(tag, err, "create token")
}

// insertToken stores a token unless $11, the secret hash its request was
// authenticated against, is given and no longer the key's: the secret was
// regenerated (ReplaceSecret) after the request read it, and the token must
// not outlive the revocation that went with it.
//
// The key's row is read FOR KEY SHARE, the lock the foreign key's check
// takes anyway, and ReplaceSecret locks it FOR UPDATE, which that lock
// conflicts with, so the two cannot interleave: an insert that locked the
// key first commits before ReplaceSecret goes on, whose revocation then
// sees its token; one that comes second waits for ReplaceSecret's commit,
// reads the key again and finds the new secret.
// {tokens} is the table of the token's partition (insertToken).
const insertTokenIn = `INSERT INTO {tokens} (access_hash, refresh_hash, family_id, key_id, user_id, scopes, grant_type,
	issued_at, expires_at, refresh_expires_at, cert_thumbprint, jkt, partition)
	SELECT $1::bytea, $2::bytea, $3::bytea, $4::bigint, $5::bigint, $6::text, $7::text, $8::bigint, $9::bigint, $10::bigint,
	$12::bytea, NULLIF($13::text, ''), NULLIF($14::text, '')
	WHERE $11::bytea IS NULL OR EXISTS (SELECT 1 FROM consumer_keys WHERE id = $4 AND secret_hash = $11 FOR KEY SHARE)`

var insertToken = partition.On(insertTokenIn, "tokens")

// insertToken returns the statement that stores t, in its partition.
func (d *DB) insertToken(t *oauth.Token) string {
	if table := d.parts().Table(t.Partition); table != partition.Default {
		return partition.On(insertTokenIn, table)
	}
	return insertToken
}

// storeToken runs insertToken in tx.
func (d *DB) storeToken(ctx context.Context, tx pgx.Tx, what string, t *oauth.Token) error {
	tag, err := exec(ctx, tx, d.insertToken(t), rowmap.TokenArgs(t)...)
	return tokenStored(tag, err, what)
}

// tokenStored is insertToken's outcome: oauth.ErrSecretReplaced when it
// stored nothing, the key's secret having changed.
func tokenStored(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, oauth.ErrSecretReplaced)
	}
	return nil
}

// AccessToken returns the token with its key, application and user; a
// token of a disabled user, or issued to a key of a disabled user's
// application, is not found.
func (d *DB) AccessToken(ctx context.Context, h oauth.Hash) (*oauth.TokenInfo, error) {
	return d.tokenInfo(ctx, "access token", `t.access_hash = $1`, h)
}

// RefreshTokenInfo is AccessToken for the token whose refresh token hashes to h.
func (d *DB) RefreshTokenInfo(ctx context.Context, h oauth.Hash) (*oauth.TokenInfo, error) {
	return d.tokenInfo(ctx, "refresh token", `t.refresh_hash = $1`, h)
}

func (d *DB) tokenInfo(ctx context.Context, what, where string, h oauth.Hash) (*oauth.TokenInfo, error) {
	var info oauth.TokenInfo
	var keyType string
	dest, finish := rowmap.TokenDest(&info.Token)
	dest = append(dest, &info.ConsumerKey, &keyType, &info.AppID, &info.AppName, &info.Username, &info.Tenant)
	partition, err := d.parts().Lookup(ctx, stringsOn(ctx, d.pool), h, noRows, func(table string) error {
		return queryRow(ctx, d.pool, `SELECT `+rowmap.TokenColumns+`, k.consumer_key, k.key_type, a.id, a.name, u.username, tn.domain
		FROM `+table+` t JOIN consumer_keys k ON k.id = t.key_id JOIN applications a ON a.id = k.app_id
		JOIN users u ON u.id = t.user_id JOIN users o ON o.id = a.owner_id
		JOIN tenants tn ON tn.id = u.tenant_id AND tn.active
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
	partition, err := d.parts().Lookup(ctx, stringsOn(ctx, d.pool), h, noRows, func(table string) error {
		return queryRow(ctx, d.pool, `SELECT `+rowmap.TokenColumns+` FROM `+table+` t WHERE t.refresh_hash = $1`, h[:]).Scan(dest...)
	})
	if err != nil {
		return nil, notFound("refresh token", err)
	}
	finish()
	t.Partition = partition
	return &t, nil
}

// RotateRefresh marks a refresh token used and stores its successor in one
// transaction; of concurrent rotations of one token only one succeeds.
func (d *DB) RotateRefresh(ctx context.Context, used oauth.Hash, next *oauth.Token) error {
	return d.spendAndIssue(ctx, "rotate refresh token", oauth.ErrRefreshUsed, next, nil, partition.On(rotateRefresh, d.parts().Table(next.Partition)), used[:])
}

// rotateRefresh spends a refresh token in the table of its successor's
// partition, where its chain is.
const rotateRefresh = `UPDATE {tokens} SET refresh_used = true WHERE refresh_hash = $1 AND NOT refresh_used AND NOT revoked`

// RotateRefreshKeeping is RotateRefresh that stores the sealed answer in
// the same transaction (migration 0101): a concurrent rotation waits on the
// token's row lock, then finds it used and the answer committed with it.
func (d *DB) RotateRefreshKeeping(ctx context.Context, used oauth.Hash, next *oauth.Token, kept *oauth.KeptAnswer) error {
	return d.spendAndIssue(ctx, "rotate refresh token", oauth.ErrRefreshUsed, next, func(tx pgx.Tx) error {
		_, err := exec(ctx, tx, `INSERT INTO refresh_answers (refresh_hash, sealed, keep_until) VALUES ($1, $2, $3)`,
			kept.Used[:], kept.Sealed, kept.KeepUntil.UnixMilli())
		return err
	}, partition.On(rotateRefresh, d.parts().Table(next.Partition)), used[:])
}

// KeptAnswer returns the sealed answer kept for the refresh token hashing to used.
func (d *DB) KeptAnswer(ctx context.Context, used oauth.Hash) (*oauth.KeptAnswer, error) {
	a := oauth.KeptAnswer{Used: used}
	var until int64
	if err := queryRow(ctx, d.pool, `SELECT sealed, keep_until FROM refresh_answers WHERE refresh_hash = $1`, used[:]).Scan(&a.Sealed, &until); err != nil {
		return nil, notFound("kept refresh answer", err)
	}
	a.KeepUntil = time.UnixMilli(until)
	return &a, nil
}

// DeleteStaleKeptAnswers drops the refresh answers whose grace period has
// ended by now.
func (d *DB) DeleteStaleKeptAnswers(ctx context.Context, now time.Time) (int64, error) {
	tag, err := d.exec(ctx, `DELETE FROM refresh_answers WHERE keep_until <= $1`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete stale refresh answers: %w", err)
	}
	return tag.RowsAffected(), nil
}

// spendAndIssue runs an update that marks a one-time grant (refresh token,
// authorization code) used and, when it changed exactly one row, stores the
// token issued for it, then runs then (when not nil) in the same
// transaction; otherwise the grant was spent already: errSpent. The update
// locks the grant's row: a concurrent one waits for this transaction, then
// finds the grant spent (or, if this one rolled back, unspent) and acts on
// that.
func (d *DB) spendAndIssue(ctx context.Context, what string, errSpent error, t *oauth.Token, then func(pgx.Tx) error, update string, args ...any) error {
	return d.tokenTx(ctx, func(tx pgx.Tx) error {
		tag, err := exec(ctx, tx, update, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if tag.RowsAffected() != 1 {
			return errSpent
		}
		if err := d.storeToken(ctx, tx, what, t); err != nil || then == nil {
			return err
		}
		if err := then(tx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
}

// inFamily matches the tokens of the chain $1 in a way that can use both
// the access_hash index (the first token) and the partial family index (the
// rest; see migration 0003).
const inFamily = `(access_hash = $1 OR (family_id = $1 AND family_id <> access_hash))`

// RevokeFamily revokes every token of a refresh chain.
func (d *DB) RevokeFamily(ctx context.Context, family oauth.Hash) error {
	table, err := d.parts().HashTable(ctx, stringsOn(ctx, d.pool), family)
	if err != nil {
		return fmt.Errorf("revoke token family: %w", err)
	}
	if _, err := d.tokenExec(ctx, `UPDATE `+table+` SET revoked = true WHERE `+inFamily, family[:]); err != nil {
		return fmt.Errorf("revoke token family: %w", err)
	}
	return nil
}

// RevokeToken revokes one access token and the refresh token issued with it.
func (d *DB) RevokeToken(ctx context.Context, access oauth.Hash) error {
	table, err := d.parts().HashTable(ctx, stringsOn(ctx, d.pool), access)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if _, err := d.tokenExec(ctx, `UPDATE `+table+` SET revoked = true WHERE access_hash = $1`, access[:]); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// usedRefreshRetention is how long a used refresh token is kept, when it
// would never expire, to recognise a replay (as in package sqlite).
const usedRefreshRetention = 90 * 24 * time.Hour

// tokenCleanupChunk is how many token ids one DELETE of DeleteStaleTokens
// covers (a variable for tests).
var tokenCleanupChunk int64 = 5000

// DeleteStaleTokens removes revoked tokens and tokens whose access and
// refresh tokens have both expired. Used refresh tokens stay until they
// expire, so that a replay is still recognised and revokes its chain; those
// that never expire, for usedRefreshRetention after they were issued.
//
// It deletes a range of ids at a time, each in its own short statement: a
// deletion locks the access generation for as long as it runs (migration
// 0023), and with it every revocation and change on every node, and holds
// the locks of the rows it deletes.
func (d *DB) DeleteStaleTokens(ctx context.Context, now time.Time) (int64, error) {
	p := d.parts()
	total, err := p.Sum(func(table string) (int64, error) { return d.deleteStaleTokens(ctx, table, now) })
	if err == nil && p.Forwards {
		if _, err := d.tokenExec(ctx, p.StaleForwards()); err != nil {
			return total, fmt.Errorf("delete stale token forwards: %w", err)
		}
	}
	return total, err
}

// deleteStaleTokens is DeleteStaleTokens on one partition's table.
func (d *DB) deleteStaleTokens(ctx context.Context, table string, now time.Time) (int64, error) {
	var lo, hi *int64
	if err := d.pool.QueryRow(ctx, `SELECT min(id), max(id) FROM `+table).Scan(&lo, &hi); err != nil {
		return 0, fmt.Errorf("delete stale tokens: %w", err)
	}
	if lo == nil {
		return 0, nil
	}
	var total int64
	for from := *lo; from <= *hi; from += tokenCleanupChunk {
		tag, err := d.tokenExec(ctx, `DELETE FROM `+table+` WHERE id >= $3 AND id < $4 AND (revoked
			OR (expires_at IS NOT NULL AND expires_at <= $1
			    AND (refresh_hash IS NULL OR (refresh_expires_at IS NOT NULL AND refresh_expires_at <= $1)
			         OR (refresh_used AND refresh_expires_at IS NULL AND issued_at <= $2))))`,
			now.UnixMilli(), now.Add(-usedRefreshRetention).UnixMilli(), from, from+tokenCleanupChunk)
		if err != nil {
			return total, fmt.Errorf("delete stale tokens: %w", err)
		}
		total += tag.RowsAffected()
	}
	return total, nil
}

// tokenBatch is how many tokens CreateTokens sends in one round trip.
const tokenBatch = 1000

// CreateTokens stores many tokens in one transaction, for bulk loads such as
// the benchmark's preloaded database. The inserts are pipelined, a batch at
// a time; each still refuses a token whose secret changed, as CreateToken.
func (d *DB) CreateTokens(ctx context.Context, tokens []*oauth.Token) error {
	for _, t := range tokens {
		if err := checkText(rowmap.TokenArgs(t)); err != nil {
			return fmt.Errorf("create tokens: %w", err)
		}
	}
	return d.tokenTx(ctx, func(tx pgx.Tx) error {
		for start := 0; start < len(tokens); start += tokenBatch {
			chunk := tokens[start:min(start+tokenBatch, len(tokens))]
			var b pgx.Batch
			for _, t := range chunk {
				b.Queue(d.insertToken(t), rowmap.TokenArgs(t)...)
			}
			res := tx.SendBatch(ctx, &b)
			for range chunk {
				tag, err := res.Exec()
				if err := tokenStored(tag, textError(err), "create tokens"); err != nil {
					res.Close()
					return err
				}
			}
			if err := res.Close(); err != nil {
				return fmt.Errorf("create tokens: %w", err)
			}
		}
		return nil
	})
}
