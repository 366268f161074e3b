package sqlite

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
	_, err := d.w.ExecContext(ctx, `INSERT INTO subscriptions (app_id, api_id, tier, created_at) VALUES (?, ?, ?, ?)`,
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
	res, err := d.w.ExecContext(ctx, `DELETE FROM subscriptions WHERE app_id = ? AND api_id = ?`, appID, apiID)
	return oneRow(res, err, fmt.Sprintf("unsubscribe application %d from API %d", appID, apiID))
}

const subscriptionQuery = `SELECT s.id, s.app_id, a.name, s.api_id, p.name, p.version, p.context, p.status, p.tiers,
	s.tier, s.created_at, u.username
	FROM subscriptions s JOIN applications a ON a.id = s.app_id JOIN apis p ON p.id = s.api_id
	JOIN users u ON u.id = a.owner_id `

// SubscriptionsOfApplication lists an application's subscriptions by API.
func (d *DB) SubscriptionsOfApplication(ctx context.Context, appID int64) ([]portal.Subscription, error) {
	return d.subscriptions(ctx, subscriptionQuery+`WHERE s.app_id = ? ORDER BY p.name, p.version`, appID)
}

// SubscriptionsToAPI lists the subscriptions of ownerID's applications to
// an API, by application.
func (d *DB) SubscriptionsToAPI(ctx context.Context, ownerID, apiID int64) ([]portal.Subscription, error) {
	return d.subscriptions(ctx, subscriptionQuery+`WHERE a.owner_id = ? AND s.api_id = ? ORDER BY a.name COLLATE NOCASE`,
		ownerID, apiID)
}

// SubscriptionsOfAPI lists every subscription to an API, by application.
func (d *DB) SubscriptionsOfAPI(ctx context.Context, apiID int64) ([]portal.Subscription, error) {
	return d.subscriptions(ctx, subscriptionQuery+`WHERE s.api_id = ? ORDER BY a.name COLLATE NOCASE, a.id`, apiID)
}

func (d *DB) subscriptions(ctx context.Context, query string, args ...any) ([]portal.Subscription, error) {
	rows, err := d.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list subscriptions", rowmap.Subscription)
}
