package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/apistore/apistore/oauth"
)

// UseProof records a DPoP proof (RFC 9449 §11.1); false when it was
// recorded already, by this node or another.
func (d *DB) UseProof(ctx context.Context, key oauth.Hash, expires time.Time) (bool, error) {
	tag, err := d.exec(ctx, `INSERT INTO dpop_proofs (hash, expires_at) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING`,
		key[:], expires.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("record DPoP proof: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteStaleProofs drops the DPoP proofs that are stale anyway.
func (d *DB) DeleteStaleProofs(ctx context.Context, now time.Time) (int64, error) {
	tag, err := d.exec(ctx, `DELETE FROM dpop_proofs WHERE expires_at <= $1`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete stale DPoP proofs: %w", err)
	}
	return tag.RowsAffected(), nil
}
