package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/apistore/apistore/portal"
)

// RecordAudit appends an event to the audit trail, its fields clipped
// (portal.AuditEvent.Clipped), which also makes them text PostgreSQL can
// store, whatever a client typed.
func (d *DB) RecordAudit(ctx context.Context, e *portal.AuditEvent) error {
	c := e.Clipped()
	if _, err := d.exec(ctx, `INSERT INTO audit_events (at, event, username, client, remote, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.At.UnixMilli(), c.Event, c.Username, c.Client, c.Remote, c.Detail); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// AuditEvents returns the events q picks, newest first.
func (d *DB) AuditEvents(ctx context.Context, q portal.AuditQuery) ([]portal.AuditEvent, error) {
	since, until := q.Bounds()
	rows, err := query(ctx, d.pool, `SELECT id, at, event, username, client, remote, detail FROM audit_events
		WHERE ($1::text = '' OR event = $1) AND ($2::text = '' OR lower(username) = lower($2)) AND ($3::text = '' OR client = $3)
			AND ($4::bigint = 0 OR at >= $4) AND ($5::bigint = 0 OR at < $5) AND ($6::bigint = 0 OR id < $6)
		ORDER BY id DESC LIMIT $7`, q.Event, q.Username, q.Client, since, until, q.BeforeID, q.Size())
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []portal.AuditEvent
	for rows.Next() {
		var e portal.AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Event, &e.Username, &e.Client, &e.Remote, &e.Detail); err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
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
