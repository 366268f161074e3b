package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// UpdateAPI saves an API's fields, status, gateway settings, definition and
// resources (replacing them) and registers scopes as ImportAPI does, in one
// transaction; a context and version another API uses is ErrConflict, a
// prefix overlapping another API's an *OverlapError. An edit can narrow access (a new scope, a retired
// API), so the gateway's caches are told.
func (d *DB) UpdateAPI(ctx context.Context, a *portal.API, scopes []oauth.Scope) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		if err := checkOverlap(ctx, tx, a); err != nil {
			return err
		}
		var tenantID int64
		if err := tx.QueryRow(ctx, `SELECT tenant_id FROM apis WHERE id = $1`, a.ID).Scan(&tenantID); err != nil {
			return notFound(fmt.Sprintf("update API %d", a.ID), err)
		}
		if err := registerScopes(ctx, tx, tenantID, scopes); err != nil {
			return err
		}
		tag, err := exec(ctx, tx, `UPDATE apis SET name = $1, version = $2, context = $3, description = $4,
			production_url = $5, sandbox_url = $6, tiers = $7, status = $8, definition = $9, cors_origins = $10,
			cors_headers = $11, cors_methods = $12, pass_method_override = $13, backend_jwt = $14, shared = $15 WHERE id = $16`, rowmap.APIArgs(a)...)
		if isUnique(err) {
			return fmt.Errorf("update API %s %s: %w", a.Context, a.Version, portal.ErrConflict)
		}
		if err := oneRow(tag, err, fmt.Sprintf("update API %d", a.ID)); err != nil {
			return err
		}
		if _, err := exec(ctx, tx, `DELETE FROM api_resources WHERE api_id = $1`, a.ID); err != nil {
			return fmt.Errorf("update API resources: %w", err)
		}
		return saveDetails(ctx, tx, a)
	})
}

// SetAPIStatus publishes or retires an API; a retired API is no longer
// served by the gateway nor listed in the store.
func (d *DB) SetAPIStatus(ctx context.Context, id int64, status string) error {
	tag, err := d.exec(ctx, `UPDATE apis SET status = $1 WHERE id = $2`, status, id)
	return oneRow(tag, err, fmt.Sprintf("set API %d status", id))
}

// ImportAPI registers scopes and creates an API in one transaction, so that
// a failure leaves nothing behind. A scope that exists keeps its description
// and roles unless new ones are given.
func (d *DB) ImportAPI(ctx context.Context, a *portal.API, scopes []oauth.Scope) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		if err := registerScopes(ctx, tx, portal.TenantIDOf(a.TenantID), scopes); err != nil {
			return err
		}
		return insertAPI(ctx, tx, a)
	})
}

// registerScopes adds scopes to a tenant, or updates the description and
// roles of those it has with the ones given (an empty one keeps the old).
func registerScopes(ctx context.Context, tx pgx.Tx, tenantID int64, scopes []oauth.Scope) error {
	for _, s := range scopes {
		if _, err := exec(ctx, tx, `INSERT INTO scopes (tenant_id, name, description, roles) VALUES ($4, $1, $2, $3)
			ON CONFLICT (tenant_id, name) DO UPDATE SET
				description = CASE WHEN excluded.description <> '' THEN excluded.description ELSE scopes.description END,
				roles = CASE WHEN excluded.roles <> '' THEN excluded.roles ELSE scopes.roles END`,
			s.Name, s.Description, joinWords(s.Roles), tenantID); err != nil {
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
	return d.tx(ctx, func(tx pgx.Tx) error {
		var previous string
		err := queryRow(ctx, tx, `SELECT value FROM settings WHERE name = 'sample_backend_url'`).Scan(&previous)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("point sample API: %w", err)
		}
		for _, col := range []string{"production_url", "sandbox_url"} {
			if _, err := exec(ctx, tx, `UPDATE apis SET `+col+` = $1 WHERE context = $2 AND version = $3 AND `+col+` IN ('', $4)`,
				url, s.Context, s.Version, previous); err != nil {
				return fmt.Errorf("point sample API: %w", err)
			}
		}
		if _, err := exec(ctx, tx, `INSERT INTO settings (name, value) VALUES ('sample_backend_url', $1)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, url); err != nil {
			return fmt.Errorf("point sample API: %w", err)
		}
		return nil
	})
}
