package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// RecordAudit appends an event to the audit trail, its fields clipped
// (portal.AuditEvent.Clipped), which also makes them text PostgreSQL can
// store, whatever a client typed; in the tenant of the user it names, else
// of the application whose key it names, else e.TenantID's.
func (d *DB) RecordAudit(ctx context.Context, e *portal.AuditEvent) error {
	c := e.Clipped()
	if _, err := d.exec(ctx, `INSERT INTO audit_events (at, event, username, client, remote, detail, tenant_id)
		VALUES ($1, $2, $3, $4, $5, $6, coalesce(
			(SELECT tenant_id FROM users WHERE $3::text <> '' AND lower(username) = lower($3::text)),
			(SELECT u.tenant_id FROM consumer_keys k JOIN applications a ON a.id = k.app_id JOIN users u ON u.id = a.owner_id
				WHERE $7::text <> '' AND k.consumer_key = $7::text),
			$8::bigint))`,
		c.At.UnixMilli(), c.Event, c.Username, c.Client, c.Remote, c.Detail, c.ClientKey(), portal.TenantIDOf(c.TenantID)); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// AuditEvents returns the events q picks, newest first.
func (d *DB) AuditEvents(ctx context.Context, q portal.AuditQuery) ([]portal.AuditEvent, error) {
	since, until := q.Bounds()
	// A tenant's trail is read in its index (tenant_id, id): the tenant
	// is a constant there, the OR form would not use it.
	tenant, args := "", []any{q.Event, q.Username, q.Client, since, until, q.BeforeID, q.Size()}
	if q.TenantID != 0 {
		tenant, args = ` AND e.tenant_id = $8`, append(args, q.TenantID)
	}
	rows, err := query(ctx, d.pool, `SELECT e.id, e.at, e.event, e.username, e.client, e.remote, e.detail, e.tenant_id, coalesce(t.domain, '')
		FROM audit_events e LEFT JOIN tenants t ON t.id = e.tenant_id
		WHERE ($1::text = '' OR e.event = $1) AND ($2::text = '' OR lower(e.username) = lower($2)) AND ($3::text = '' OR e.client = $3)
			AND ($4::bigint = 0 OR e.at >= $4) AND ($5::bigint = 0 OR e.at < $5) AND ($6::bigint = 0 OR e.id < $6)`+tenant+`
		ORDER BY e.id DESC LIMIT $7`, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	return rowmap.AllWrapped(rows, "list audit events", rowmap.AuditEvent)
}

// DeleteAuditBefore removes the events older than before, so that the trail
// (which a flood of failed log-ins from many addresses feeds) stays bounded
// by its retention.
func (d *DB) DeleteAuditBefore(ctx context.Context, before time.Time) (int64, error) {
	tag, err := d.exec(ctx, `DELETE FROM audit_events WHERE at < $1`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete old audit events: %w", err)
	}
	return tag.RowsAffected(), nil
}
