package db

import (
	"context"
	"fmt"
)

// DataVersion changes whenever another connection — of this process or of
// another one, such as an admin subcommand — commits a write (SQLite's PRAGMA
// data_version, read on one dedicated connection). With AccessGeneration it
// lets a cache notice every change, wherever it was made.
func (d *DB) DataVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := d.dataVersionQ.QueryRowContext(ctx).Scan(&v); err != nil {
		return 0, fmt.Errorf("read data version: %w", err)
	}
	return v, nil
}

// SubscriptionTier returns the id and tier of an application's subscription
// to an API, or ErrNotFound when it is not subscribed.
func (d *DB) SubscriptionTier(ctx context.Context, appID, apiID int64) (id int64, tier string, err error) {
	err = d.r.QueryRowContext(ctx, `SELECT id, tier FROM subscriptions WHERE app_id = ? AND api_id = ?`, appID, apiID).Scan(&id, &tier)
	if err != nil {
		return 0, "", notFound(fmt.Sprintf("subscription of application %d to API %d", appID, apiID), err)
	}
	return id, tier, nil
}
