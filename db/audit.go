package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Audit event names, as stored and shown to administrators.
const (
	AuditLoginFailed        = "login_failed"
	AuditClientAuthFailed   = "client_auth_failed"
	AuditKeysGenerated      = "keys_generated"
	AuditSecretRegenerated  = "secret_regenerated"
	AuditAppTokensRevoked   = "app_tokens_revoked"
	AuditTokenRevoked       = "token_revoked"
	AuditConsentGranted     = "consent_granted"
	AuditConsentRevoked     = "consent_revoked"
	AuditApplicationDeleted = "application_deleted"
	AuditGrantReplayed      = "grant_replayed"
	AuditLogin              = "login"
	AuditLockout            = "lockout"
	AuditSignup             = "signup"
	AuditKeyUpdated         = "key_updated"
	AuditApplicationCreated = "application_created"
	AuditApplicationUpdated = "application_updated"
	AuditSubscribed         = "subscribed"
	AuditUnsubscribed       = "unsubscribed"
	AuditAPIChanged         = "api_changed"
	AuditUserCreated        = "user_created"
	AuditUserDeleted        = "user_deleted"
	AuditScopeChanged       = "scope_changed"
)

const (
	auditMaxFieldLen = 200
	auditListingSize = 200
)

// AuditEvent is one security event of the audit trail.
type AuditEvent struct {
	ID       int64
	At       time.Time
	Event    string
	Username string // who acted or was named (a failed log-in's typed name)
	Client   string // consumer key(s); an application is named in Detail
	Remote   string // client address
	Detail   string
}

// RecordAudit appends an event to the audit trail. Fields are cut short so
// that a flood of made-up names cannot grow rows without bound.
func (d *DB) RecordAudit(ctx context.Context, e *AuditEvent) error {
	cut := func(s string) string {
		if len(s) > auditMaxFieldLen {
			return s[:auditMaxFieldLen]
		}
		return s
	}
	err := d.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO audit_events (at, event, username, client, remote, detail) VALUES (?, ?, ?, ?, ?, ?)`,
			e.At.UnixMilli(), e.Event, cut(e.Username), cut(e.Client), cut(e.Remote), cut(e.Detail))
		return err
	})
	if err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// AuditEvents returns the latest events, newest first; limit <= 0 means 200.
func (d *DB) AuditEvents(ctx context.Context, limit int) ([]AuditEvent, error) {
	if limit <= 0 {
		limit = auditListingSize
	}
	rows, err := d.r.QueryContext(ctx, `SELECT id, at, event, username, client, remote, detail
		FROM audit_events ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
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
	res, err := d.w.ExecContext(ctx, `DELETE FROM audit_events WHERE at < ?`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete old audit events: %w", err)
	}
	return res.RowsAffected()
}
