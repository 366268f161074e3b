package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// AllAPIs lists every API, published or retired, for the Publisher.
func (d *DB) AllAPIs(ctx context.Context) ([]portal.API, error) {
	return d.listAPIs(ctx, ``)
}

// UpdateAPI saves an API's fields, status, gateway settings, definition and
// resources (replacing them) and registers scopes as ImportAPI does, in one
// transaction; a context and version another API uses is ErrConflict, a
// prefix overlapping another API's an *OverlapError. An edit can narrow access (a new
// scope, a retired API), so the gateway's caches are told.
func (d *DB) UpdateAPI(ctx context.Context, a *portal.API, scopes []oauth.Scope) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		if err := checkOverlap(ctx, tx, a); err != nil {
			return err
		}
		var tenantID int64
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM apis WHERE id = ?`, a.ID).Scan(&tenantID); err != nil {
			return notFound(fmt.Sprintf("update API %d", a.ID), err)
		}
		if err := registerScopes(ctx, tx, tenantID, scopes); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE apis SET name = ?, version = ?, context = ?, description = ?,
			production_url = ?, sandbox_url = ?, tiers = ?, status = ?, definition = ?, cors_origins = ?,
			cors_headers = ?, cors_methods = ?, pass_method_override = ?, backend_jwt = ?, shared = ? WHERE id = ?`, rowmap.APIArgs(a)...)
		if isUnique(err) {
			return fmt.Errorf("update API %s %s: %w", a.Context, a.Version, portal.ErrConflict)
		}
		if err := oneRow(res, err, fmt.Sprintf("update API %d", a.ID)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_resources WHERE api_id = ?`, a.ID); err != nil {
			return fmt.Errorf("update API resources: %w", err)
		}
		return saveDetails(ctx, tx, a)
	})
	return err
}

// SetAPIStatus publishes or retires an API; a retired API is no longer
// served by the gateway nor listed in the store.
func (d *DB) SetAPIStatus(ctx context.Context, id int64, status string) error {
	res, err := d.w.ExecContext(ctx, `UPDATE apis SET status = ? WHERE id = ?`, status, id)
	return oneRow(res, err, fmt.Sprintf("set API %d status", id))
}

// ImportAPI registers scopes and creates an API in one transaction, so that
// a failure leaves nothing behind. A scope that exists keeps its description
// and roles unless new ones are given.
func (d *DB) ImportAPI(ctx context.Context, a *portal.API, scopes []oauth.Scope) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		if err := registerScopes(ctx, tx, portal.TenantIDOf(a.TenantID), scopes); err != nil {
			return err
		}
		return insertAPI(ctx, tx, a)
	})
}

// registerScopes adds scopes to a tenant, or updates the description and
// roles of those it has with the ones given (an empty one keeps the old).
func registerScopes(ctx context.Context, tx *sql.Tx, tenantID int64, scopes []oauth.Scope) error {
	for _, s := range scopes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO scopes (tenant_id, name, description, roles) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, name) DO UPDATE SET
				description = CASE WHEN excluded.description != '' THEN excluded.description ELSE description END,
				roles = CASE WHEN excluded.roles != '' THEN excluded.roles ELSE roles END`,
			tenantID, s.Name, s.Description, joinWords(s.Roles)); err != nil {
			return fmt.Errorf("register scope %q: %w", s.Name, err)
		}
	}
	return nil
}

// PointSampleAPI points the sample API's endpoints at url, the sample
// backend's address in this run. Endpoints someone changed since (anything
// but empty or the previous run's address) are left alone.
func (d *DB) PointSampleAPI(ctx context.Context, url string) error {
	s := portal.SampleAPI()
	return d.tx(ctx, func(tx *sql.Tx) error {
		var previous string
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'sample_backend_url'`).Scan(&previous)
		if err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("point sample API: %w", err)
		}
		for _, col := range []string{"production_url", "sandbox_url"} {
			if _, err := tx.ExecContext(ctx, `UPDATE apis SET `+col+` = ? WHERE context = ? AND version = ? AND `+col+` IN ('', ?)`,
				url, s.Context, s.Version, previous); err != nil {
				return fmt.Errorf("point sample API: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('sample_backend_url', ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, url); err != nil {
			return fmt.Errorf("point sample API: %w", err)
		}
		return nil
	})
}
