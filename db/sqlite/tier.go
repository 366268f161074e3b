package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// PutTier sets a tier of t.TenantID: its own, or a default tier's limit
// for that tenant only.
func (d *DB) PutTier(ctx context.Context, t portal.Tier) error {
	_, err := d.w.ExecContext(ctx, `INSERT INTO tiers (tenant_id, name, rpm, description) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET rpm = excluded.rpm, description = excluded.description`,
		portal.TenantIDOf(t.TenantID), t.Name, t.RPM, t.Description)
	if isForeignKey(err) {
		return fmt.Errorf("put tier %q: tenant %d: %w", t.Name, t.TenantID, portal.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put tier %q: %w", t.Name, err)
	}
	return nil
}

// DeleteTier removes a tier the tenant set: a default tier gets the
// default limit back; the tenant's own is ErrConflict while one of its APIs
// offers it, a subscription is on it or an application of its users has
// it, and ErrNotFound when it has none of that name.
func (d *DB) DeleteTier(ctx context.Context, tenantID int64, name string) error {
	tenantID = portal.TenantIDOf(tenantID)
	return d.tx(ctx, func(tx *sql.Tx) error {
		if !portal.IsDefaultTier(name) {
			var used bool
			err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM apis WHERE tenant_id = ?1
					AND instr(' ' || tiers || ' ', ' ' || ?2 || ' ') > 0)
				OR EXISTS (SELECT 1 FROM subscriptions s JOIN apis a ON a.id = s.api_id WHERE a.tenant_id = ?1 AND s.tier = ?2)
				OR EXISTS (SELECT 1 FROM applications ap JOIN users u ON u.id = ap.owner_id WHERE u.tenant_id = ?1 AND ap.tier = ?2)`,
				tenantID, name).Scan(&used)
			if err != nil {
				return fmt.Errorf("delete tier %q: %w", name, err)
			}
			if used {
				return fmt.Errorf("delete tier %q: in use: %w", name, portal.ErrConflict)
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM tiers WHERE tenant_id = ? AND name = ?`, tenantID, name)
		return oneRow(res, err, fmt.Sprintf("delete tier %q", name))
	})
}

// Tiers lists the tiers the tenant set, by name (portal.TenantTiers adds
// the default ones).
func (d *DB) Tiers(ctx context.Context, tenantID int64) ([]portal.Tier, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+rowmap.TierColumns+` FROM tiers WHERE tenant_id = ? ORDER BY name`, portal.TenantIDOf(tenantID))
	return collectRows(rows, err, "tiers", rowmap.ScanTier)
}

// CustomTiers lists the tiers every tenant set, for the gateway.
func (d *DB) CustomTiers(ctx context.Context) ([]portal.Tier, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+rowmap.TierColumns+` FROM tiers ORDER BY tenant_id, name`)
	return collectRows(rows, err, "tiers", rowmap.ScanTier)
}
