package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// saveTags replaces the tags of the API a.ID with a.Tags, normalized (a
// tag that cannot be one is an error).
func saveTags(ctx context.Context, tx *sql.Tx, a *portal.API) error {
	tags, err := portal.CleanTags(a.Tags)
	if err != nil {
		return fmt.Errorf("API tags: %w", err)
	}
	a.Tags = tags
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_tags WHERE api_id = ?`, a.ID); err != nil {
		return fmt.Errorf("API tags: %w", err)
	}
	for i, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_tags (api_id, tag, position) VALUES (?, ?, ?)`, a.ID, t, i); err != nil {
			return fmt.Errorf("API tags: %w", err)
		}
	}
	return nil
}

// reindex writes the search words and sort key of the API id, from what tx
// holds of it.
func reindex(ctx context.Context, tx *sql.Tx, id int64) error {
	a := portal.API{ID: id}
	if err := tx.QueryRowContext(ctx, `SELECT name, version, description, context FROM apis WHERE id = ?`, id).
		Scan(&a.Name, &a.Version, &a.Description, &a.Context); err != nil {
		return notFound(fmt.Sprintf("index API %d", id), err)
	}
	var err error
	if a.Tags, err = column(ctx, tx, `SELECT tag FROM api_tags WHERE api_id = ? ORDER BY position`, id); err != nil {
		return fmt.Errorf("index API %d: %w", id, err)
	}
	paths, err := column(ctx, tx, `SELECT path FROM api_resources WHERE api_id = ?`, id)
	if err != nil {
		return fmt.Errorf("index API %d: %w", id, err)
	}
	for _, p := range paths {
		a.Resources = append(a.Resources, portal.Resource{Path: p})
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_search WHERE rowid = ?`, id); err != nil {
		return fmt.Errorf("index API %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO api_search (rowid, words) VALUES (?, ?)`,
		id, strings.Join(portal.SearchDocument(&a), " ")); err != nil {
		return fmt.Errorf("index API %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO api_sort (api_id, sort_key) VALUES (?, ?)
		ON CONFLICT (api_id) DO UPDATE SET sort_key = excluded.sort_key`, id, portal.SortKey(a.Name, a.Version)); err != nil {
		return fmt.Errorf("index API %d: %w", id, err)
	}
	return nil
}

// column reads the one text column a query returns, in a transaction or
// not.
func column(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// indexMissing indexes the APIs the search index lacks: those made before
// it existed.
func (d *DB) indexMissing(ctx context.Context) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		var ids []int64
		rows, err := tx.QueryContext(ctx, `SELECT id FROM apis WHERE id NOT IN (SELECT api_id FROM api_sort)`)
		if err != nil {
			return fmt.Errorf("index APIs: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("index APIs: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("index APIs: %w", err)
		}
		for _, id := range ids {
			if err := reindex(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// fewMatches is how many APIs a search matches at most for SQLite to sort
// them rather than go through every API in order.
var fewMatches = 500

// tenantAPIs and tenantAPIsByRow select, with the tenant's id as their one
// argument, the APIs a tenant's developers see: its own and the shared ones
// of active tenants (a deactivated tenant's APIs are not served). Each
// shared API's tenant is looked up by its key (EXISTS), never the list of
// thousands of tenants built.
const (
	tenantAPIs = `a.id IN (SELECT id FROM apis WHERE tenant_id = ? UNION ALL
		SELECT s.id FROM apis s WHERE s.shared = 1 AND EXISTS (SELECT 1 FROM tenants tn WHERE tn.id = s.tenant_id AND tn.active = 1))`
	// unary +: no index on these, the order's is walked
	tenantAPIsByRow = `(+a.tenant_id = ? OR +a.shared = 1 AND EXISTS (SELECT 1 FROM tenants tn WHERE tn.id = a.tenant_id AND tn.active = 1))`
)

// SearchAPIs returns a page of the published APIs whose words start with
// every word of q's text and that have every tag q names, with their
// resources and tags, and how many match in all.
func (d *DB) SearchAPIs(ctx context.Context, q portal.SearchQuery) (portal.SearchPage, error) {
	tags, ok := q.FilterTags()
	if !ok {
		return portal.SearchPage{}, nil
	}
	// The tenant's APIs and the shared ones, as a list of ids read from
	// the tenant's and the sharing's indexes: a tenant's few APIs among
	// many tenants' are counted and sorted without a scan (see below for
	// the searches that match many).
	where, args := `a.status = ? AND `+tenantAPIs, []any{portal.APIPublished, portal.TenantIDOf(q.Tenant)}
	if terms := q.Terms(); len(terms) > 0 {
		// Each term quoted, as a prefix; the terms hold letters, digits
		// and marks only, so no quote nor operator reaches FTS5.
		match := make([]string, len(terms))
		for i, t := range terms {
			match[i] = `"` + t + `"*`
		}
		where += ` AND a.id IN (SELECT rowid FROM api_search WHERE api_search MATCH ?)`
		args = append(args, strings.Join(match, " "))
	}
	for _, t := range tags {
		where += ` AND a.id IN (SELECT api_id FROM api_tags WHERE tag = ?)`
		args = append(args, t)
	}
	var page portal.SearchPage
	if err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM apis a WHERE `+where, args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("search APIs: %w", err)
	}
	// Most often the APIs come in the order of the index of names (a CROSS
	// JOIN makes SQLite go through it first), and the first that match make
	// the page: no sort, however many match. When words or tags match few
	// APIs, it is quicker to sort those.
	join := "CROSS JOIN"
	if page.Total < fewMatches {
		join = "JOIN"
	} else {
		// Many match: the page is read walking the name (or date) index
		// and stops once full, each API checked on its row.
		where = strings.Replace(where, tenantAPIs, tenantAPIsByRow, 1)
	}
	from, order := ` FROM api_sort k `+join+` apis a ON a.id = k.api_id WHERE `, `k.sort_key, k.api_id`
	if q.Sort == portal.SortNewest {
		from, order = ` FROM apis a WHERE `, `a.created_at DESC, a.id DESC`
	}
	offset, limit := q.Page()
	if page.Total == 0 || offset >= page.Total {
		return page, nil
	}
	rows, err := d.r.QueryContext(ctx, `SELECT `+rowmap.APIColumns+from+where+` ORDER BY `+order+` LIMIT ? OFFSET ?`,
		append(args, limit, offset)...)
	if err != nil {
		return page, fmt.Errorf("search APIs: %w", err)
	}
	page.APIs, err = rowmap.AllWrapped(rows, "search APIs", rowmap.ListedAPI)
	rows.Close()
	if err != nil {
		return page, err
	}
	for i := range page.APIs {
		if err := d.details(ctx, &page.APIs[i]); err != nil {
			return page, err
		}
	}
	return page, nil
}

// PublishedTags lists the tags of the published APIs a tenant sees (its
// own and the shared ones; 0: the super tenant), the most used first.
func (d *DB) PublishedTags(ctx context.Context, tenant int64, limit int) ([]portal.TagCount, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT t.tag, count(*) FROM api_tags t JOIN apis a ON a.id = t.api_id
		WHERE a.status = ? AND `+tenantAPIs+` GROUP BY t.tag ORDER BY count(*) DESC, t.tag LIMIT ?`,
		portal.APIPublished, portal.TenantIDOf(tenant), limit)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	defer rows.Close()
	var out []portal.TagCount
	for rows.Next() {
		var t portal.TagCount
		if err := rows.Scan(&t.Tag, &t.Count); err != nil {
			return nil, fmt.Errorf("list tags: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// details loads a's resources and tags.
func (d *DB) details(ctx context.Context, a *portal.API) error {
	var err error
	if a.Resources, err = d.resources(ctx, a.ID); err != nil {
		return err
	}
	if a.Tags, err = column(ctx, d.r, `SELECT tag FROM api_tags WHERE api_id = ? ORDER BY position`, a.ID); err != nil {
		return fmt.Errorf("load API tags: %w", err)
	}
	return nil
}
