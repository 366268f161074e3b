package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/apistore/apistore/oauth"
)

// insertProof records a DPoP proof unless it was recorded already.
const insertProof = `INSERT INTO dpop_proofs (hash, expires_at) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING`

// UseProof records a DPoP proof (RFC 9449 §11.1) in the writer's next
// group commit, so that a burst of calls costs one commit; false when it
// was recorded already.
func (d *DB) UseProof(ctx context.Context, key oauth.Hash, expires time.Time) (bool, error) {
	fresh := false
	err := d.write(ctx, func(tx *sql.Tx) error {
		res, err := d.txExec(tx, insertProof, key[:], expires.UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record DPoP proof: %w", err)
	}
	return fresh, nil
}

// DeleteStaleProofs drops the DPoP proofs that are stale anyway.
func (d *DB) DeleteStaleProofs(ctx context.Context, now time.Time) (int64, error) {
	res, err := d.w.ExecContext(ctx, `DELETE FROM dpop_proofs WHERE expires_at <= ?`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete stale DPoP proofs: %w", err)
	}
	return res.RowsAffected()
}
