package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// Subscribe subscribes an application to an API; a second subscription of
// the same pair is ErrConflict.
func (d *DB) Subscribe(ctx context.Context, appID, apiID int64, tier string) error {
	_, err := d.exec(ctx, `INSERT INTO subscriptions (app_id, api_id, tier, created_at) VALUES ($1, $2, $3, $4)`,
		appID, apiID, tier, time.Now().UnixMilli())
	if isUnique(err) {
		return fmt.Errorf("subscribe application %d to API %d: %w", appID, apiID, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	return nil
}

// Unsubscribe ends an application's subscription to an API; its tokens stop
// reaching the API at once.
func (d *DB) Unsubscribe(ctx context.Context, appID, apiID int64) error {
	tag, err := d.exec(ctx, `DELETE FROM subscriptions WHERE app_id = $1 AND api_id = $2`, appID, apiID)
	return oneRow(tag, err, fmt.Sprintf("unsubscribe application %d from API %d", appID, apiID))
}

// SubscriptionTier returns the id and tier of an application's subscription
// to an API, or ErrNotFound when it is not subscribed.
func (d *DB) SubscriptionTier(ctx context.Context, appID, apiID int64) (id int64, tier string, err error) {
	err = queryRow(ctx, d.pool, `SELECT id, tier FROM subscriptions WHERE app_id = $1 AND api_id = $2`, appID, apiID).Scan(&id, &tier)
	if err != nil {
		return 0, "", notFound(fmt.Sprintf("subscription of application %d to API %d", appID, apiID), err)
	}
	return id, tier, nil
}

const subscriptionQuery = `SELECT s.id, s.app_id, a.name, s.api_id, p.name, p.version, p.context, p.status, p.tiers,
	s.tier, s.created_at, u.username
	FROM subscriptions s JOIN applications a ON a.id = s.app_id JOIN apis p ON p.id = s.api_id
	JOIN users u ON u.id = a.owner_id `

// SubscriptionsOfApplication lists an application's subscriptions by API.
func (d *DB) SubscriptionsOfApplication(ctx context.Context, appID int64) ([]portal.Subscription, error) {
	return d.subscriptions(ctx, subscriptionQuery+`WHERE s.app_id = $1 ORDER BY p.name, p.version`, appID)
}

// SubscriptionsToAPI lists the subscriptions of ownerID's applications to
// an API, by application (ignoring case, as SQLite's NOCASE).
func (d *DB) SubscriptionsToAPI(ctx context.Context, ownerID, apiID int64) ([]portal.Subscription, error) {
	return d.subscriptions(ctx, subscriptionQuery+`WHERE a.owner_id = $1 AND s.api_id = $2 ORDER BY lower(a.name)`,
		ownerID, apiID)
}

// SubscriptionsOfAPI lists every subscription to an API, by application.
func (d *DB) SubscriptionsOfAPI(ctx context.Context, apiID int64) ([]portal.Subscription, error) {
	return d.subscriptions(ctx, subscriptionQuery+`WHERE s.api_id = $1 ORDER BY lower(a.name), a.id`, apiID)
}

func (d *DB) subscriptions(ctx context.Context, sql string, args ...any) ([]portal.Subscription, error) {
	rows, err := query(ctx, d.pool, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list subscriptions", rowmap.Subscription)
}
