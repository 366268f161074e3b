package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// checkOverlap returns an *OverlapError when a's prefix overlaps that of
// an API other than a, published or retired (a retired API may be
// published again). The same context and version is left to the unique
// index (ErrConflict).
func checkOverlap(ctx context.Context, q querier, a *portal.API) error {
	prefix := a.Context + "/" + a.Version
	var o portal.API
	// Through the index apis_prefix (migration 0150): the prefixes that
	// begin this one at a slash, and those that this one begins followed
	// by a slash ('0' is the byte after '/').
	err := queryRow(ctx, q, `SELECT name, version, context, status FROM apis
		WHERE id <> $1 AND ((context || '/' || version) COLLATE "C" = ANY($2::text[])
			OR ((context || '/' || version) COLLATE "C" >= $3 || '/' AND (context || '/' || version) COLLATE "C" < $3 || '0'))
		ORDER BY name, version LIMIT 1`, a.ID, portal.PrefixesOf(prefix), prefix).Scan(&o.Name, &o.Version, &o.Context, &o.Status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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
	return d.tx(ctx, func(tx pgx.Tx) error { return insertAPI(ctx, tx, a) })
}

func insertAPI(ctx context.Context, q querier, a *portal.API) error {
	rowmap.FillAPI(a)
	if err := checkOverlap(ctx, q, a); err != nil {
		return err
	}
	err := writeRow(ctx, q, `INSERT INTO apis (name, version, context, description, production_url, sandbox_url,
		tiers, status, created_at, definition, cors_origins, cors_headers, cors_methods,
		pass_method_override, backend_jwt, tenant_id, shared)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
		rowmap.NewAPIArgs(a), &a.ID)
	if isUnique(err) {
		return fmt.Errorf("create API %s %s: %w", a.Context, a.Version, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create API: %w", err)
	}
	return saveDetails(ctx, q, a)
}

// saveDetails stores a's resources, tags and search words under a.ID.
func saveDetails(ctx context.Context, q querier, a *portal.API) error {
	if err := insertResources(ctx, q, a); err != nil {
		return err
	}
	if err := saveTags(ctx, q, a); err != nil {
		return err
	}
	return reindex(ctx, q, a.ID)
}

// insertResources stores a's resources under a.ID.
func insertResources(ctx context.Context, q querier, a *portal.API) error {
	for i := range a.Resources {
		r := &a.Resources[i]
		if err := writeRow(ctx, q, `INSERT INTO api_resources (api_id, method, path, scope) VALUES ($1, $2, $3, $4) RETURNING id`,
			[]any{a.ID, r.Method, r.Path, r.Scope}, &r.ID); err != nil {
			return fmt.Errorf("create API resource %s %s: %w", r.Method, r.Path, err)
		}
	}
	return nil
}

// PublishedAPIs lists the published APIs of active tenants by name and
// version, with resources.
func (d *DB) PublishedAPIs(ctx context.Context) ([]portal.API, error) {
	return d.listAPIs(ctx, `WHERE status = $1 AND tenant_id IN (SELECT id FROM tenants WHERE active)`, portal.APIPublished)
}

// AllAPIs lists every API, published or retired, for the Publisher.
func (d *DB) AllAPIs(ctx context.Context) ([]portal.API, error) {
	return d.listAPIs(ctx, ``)
}

// listAPIs lists the APIs a WHERE clause selects, with their resources:
// two queries, whatever the number of APIs.
func (d *DB) listAPIs(ctx context.Context, where string, args ...any) ([]portal.API, error) {
	rows, err := query(ctx, d.pool, `SELECT `+rowmap.APIColumns+` FROM apis `+where+` ORDER BY name, version`, args...)
	if err != nil {
		return nil, fmt.Errorf("list APIs: %w", err)
	}
	defer rows.Close()
	out, err := rowmap.AllWrapped(rows, "list APIs", rowmap.ListedAPI)
	if err != nil {
		return nil, err
	}
	if err := d.details(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// APIByID returns an API with its resources.
func (d *DB) APIByID(ctx context.Context, id int64) (*portal.API, error) {
	return d.oneAPI(ctx, fmt.Sprintf("API %d", id), `id = $1`, id)
}

// APIByContext returns the API with a context and version, with its
// resources, whatever its status.
func (d *DB) APIByContext(ctx context.Context, apiContext, version string) (*portal.API, error) {
	return d.oneAPI(ctx, fmt.Sprintf("API %s %s", apiContext, version), `context = $1 AND version = $2`, apiContext, version)
}

func (d *DB) oneAPI(ctx context.Context, what, where string, args ...any) (*portal.API, error) {
	a, err := rowmap.ScanAPI(queryRow(ctx, d.pool, `SELECT `+rowmap.OneAPIColumns+` FROM apis WHERE `+where, args...), true)
	if err != nil {
		return nil, notFound(what, err)
	}
	list := []portal.API{*a}
	if err := d.details(ctx, list); err != nil {
		return nil, err
	}
	return &list[0], nil
}

// resources loads the resources of the APIs ids, by path and method.
func (d *DB) resources(ctx context.Context, ids []int64) (map[int64][]portal.Resource, error) {
	rows, err := query(ctx, d.pool, `SELECT api_id, id, method, path, scope FROM api_resources
		WHERE api_id = ANY($1) ORDER BY api_id, path, method`, ids)
	if err != nil {
		return nil, fmt.Errorf("load API resources: %w", err)
	}
	defer rows.Close()
	out := map[int64][]portal.Resource{}
	for rows.Next() {
		var apiID int64
		var r portal.Resource
		if err := rows.Scan(&apiID, &r.ID, &r.Method, &r.Path, &r.Scope); err != nil {
			return nil, fmt.Errorf("load API resources: %w", err)
		}
		out[apiID] = append(out[apiID], r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load API resources: %w", err)
	}
	return out, nil
}

// SeedSample publishes the sample API and its scopes, once: a sample API
// deleted or retired later is not brought back, nor one whose context an
// API imported earlier holds.
func (d *DB) SeedSample(ctx context.Context) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		tag, err := exec(ctx, tx, `INSERT INTO settings (name, value) VALUES ('sample_seeded', '1') ON CONFLICT DO NOTHING`)
		if err != nil {
			return fmt.Errorf("seed sample API: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		for _, s := range portal.SampleScopes {
			if _, err := exec(ctx, tx, `INSERT INTO scopes (name, description) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				s.Name, s.Description); err != nil {
				return fmt.Errorf("seed sample scopes: %w", err)
			}
		}
		// An API imported before the first start may hold the sample's
		// place; it stays, without the sample. The insert runs in a
		// savepoint: in PostgreSQL a failed statement would otherwise
		// abort the whole transaction, the marker with it.
		sp, err := tx.Begin(ctx)
		if err != nil {
			return fmt.Errorf("seed sample API: %w", err)
		}
		var overlap *portal.OverlapError
		if err := insertAPI(ctx, sp, portal.SampleAPI()); err != nil {
			_ = sp.Rollback(ctx)
			if errors.Is(err, portal.ErrConflict) || errors.As(err, &overlap) {
				return nil
			}
			return err
		}
		return sp.Commit(ctx)
	})
}
