package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// checkOverlap returns an *OverlapError when a's prefix overlaps that of
// an API other than a, published or retired (a retired API may be
// published again). The same context and version is left to the unique
// index (ErrConflict).
func checkOverlap(ctx context.Context, tx *sql.Tx, a *portal.API) error {
	prefix := a.Context + "/" + a.Version
	var o portal.API
	// Through the index apis_prefix (migration 0150): the prefixes that
	// begin this one at a slash, and those that this one begins followed
	// by a slash ('0' is the byte after '/').
	begins := portal.PrefixesOf(prefix)
	args := []any{a.ID, prefix}
	in := make([]string, len(begins))
	for i, p := range begins {
		in[i], args = fmt.Sprintf("?%d", len(args)+1), append(args, p)
	}
	err := tx.QueryRowContext(ctx, `SELECT name, version, context, status FROM apis
		WHERE id != ?1 AND (context || '/' || version IN (`+strings.Join(in, ", ")+`)
			OR (context || '/' || version >= ?2 || '/' AND context || '/' || version < ?2 || '0'))
		ORDER BY name, version LIMIT 1`, args...).Scan(&o.Name, &o.Version, &o.Context, &o.Status)
	switch {
	case err == sql.ErrNoRows:
		return nil
	case err != nil:
		return fmt.Errorf("check API prefix %s: %w", prefix, err)
	}
	return &portal.OverlapError{Prefix: prefix, Other: o}
}

// CreateAPI stores an API with its resources in one transaction; a context
// and version already used is ErrConflict, a prefix overlapping another
// API's an *OverlapError.
func (d *DB) CreateAPI(ctx context.Context, a *portal.API) error {
	return d.tx(ctx, func(tx *sql.Tx) error { return insertAPI(ctx, tx, a) })
}

func insertAPI(ctx context.Context, tx *sql.Tx, a *portal.API) error {
	rowmap.FillAPI(a)
	if err := checkOverlap(ctx, tx, a); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO apis (name, version, context, description, production_url, sandbox_url,
		tiers, status, created_at, definition, cors_origins, cors_headers, cors_methods,
		pass_method_override, backend_jwt, tenant_id, shared) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rowmap.NewAPIArgs(a)...)
	if isUnique(err) {
		return fmt.Errorf("create API %s %s: %w", a.Context, a.Version, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create API: %w", err)
	}
	if a.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	return saveDetails(ctx, tx, a)
}

// saveDetails stores a's resources, tags and search words under a.ID.
func saveDetails(ctx context.Context, tx *sql.Tx, a *portal.API) error {
	if err := insertResources(ctx, tx, a); err != nil {
		return err
	}
	if err := saveTags(ctx, tx, a); err != nil {
		return err
	}
	return reindex(ctx, tx, a.ID)
}

// insertResources stores a's resources under a.ID.
func insertResources(ctx context.Context, tx *sql.Tx, a *portal.API) error {
	for i := range a.Resources {
		r := &a.Resources[i]
		res, err := tx.ExecContext(ctx, `INSERT INTO api_resources (api_id, method, path, scope) VALUES (?, ?, ?, ?)`,
			a.ID, r.Method, r.Path, r.Scope)
		if err != nil {
			return fmt.Errorf("create API resource %s %s: %w", r.Method, r.Path, err)
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	return nil
}

// PublishedAPIs lists the published APIs of active tenants by name and
// version, with resources.
func (d *DB) PublishedAPIs(ctx context.Context) ([]portal.API, error) {
	return d.listAPIs(ctx, `WHERE status = ? AND tenant_id IN (SELECT id FROM tenants WHERE active = 1)`, portal.APIPublished)
}

// listAPIs lists the APIs a WHERE clause selects, with their resources.
func (d *DB) listAPIs(ctx context.Context, where string, args ...any) ([]portal.API, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+rowmap.APIColumns+` FROM apis `+where+` ORDER BY name, version`, args...)
	if err != nil {
		return nil, fmt.Errorf("list APIs: %w", err)
	}
	defer rows.Close()
	out, err := rowmap.AllWrapped(rows, "list APIs", rowmap.ListedAPI)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if err := d.details(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// APIByID returns an API with its resources.
func (d *DB) APIByID(ctx context.Context, id int64) (*portal.API, error) {
	a, err := rowmap.ScanAPI(d.r.QueryRowContext(ctx, `SELECT `+rowmap.OneAPIColumns+` FROM apis WHERE id = ?`, id), true)
	if err != nil {
		return nil, notFound(fmt.Sprintf("API %d", id), err)
	}
	if err := d.details(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// APIByContext returns the API with a context and version, with its
// resources, whatever its status.
func (d *DB) APIByContext(ctx context.Context, apiContext, version string) (*portal.API, error) {
	a, err := rowmap.ScanAPI(d.r.QueryRowContext(ctx, `SELECT `+rowmap.OneAPIColumns+` FROM apis WHERE context = ? AND version = ?`, apiContext, version), true)
	if err != nil {
		return nil, notFound(fmt.Sprintf("API %s %s", apiContext, version), err)
	}
	if err := d.details(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

func (d *DB) resources(ctx context.Context, apiID int64) ([]portal.Resource, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT id, method, path, scope FROM api_resources WHERE api_id = ? ORDER BY path, method`, apiID)
	if err != nil {
		return nil, fmt.Errorf("load API resources: %w", err)
	}
	defer rows.Close()
	var out []portal.Resource
	for rows.Next() {
		var r portal.Resource
		if err := rows.Scan(&r.ID, &r.Method, &r.Path, &r.Scope); err != nil {
			return nil, fmt.Errorf("load API resources: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SeedSample publishes the sample API and its scopes, once: a sample API
// deleted or retired later is not brought back, nor one whose context an
// API imported earlier holds.
func (d *DB) SeedSample(ctx context.Context) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('sample_seeded', '1') ON CONFLICT DO NOTHING`)
		if err != nil {
			return fmt.Errorf("seed sample API: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		for _, s := range portal.SampleScopes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO scopes (name, description) VALUES (?, ?) ON CONFLICT DO NOTHING`,
				s.Name, s.Description); err != nil {
				return fmt.Errorf("seed sample scopes: %w", err)
			}
		}
		// An API imported before the first start may hold the sample's
		// place; it stays, without the sample.
		var overlap *portal.OverlapError
		if err := insertAPI(ctx, tx, portal.SampleAPI()); err != nil && !errors.Is(err, portal.ErrConflict) && !errors.As(err, &overlap) {
			return err
		}
		return nil
	})
}
