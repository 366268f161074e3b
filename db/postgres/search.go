package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// saveTags replaces the tags of the API a.ID with a.Tags, normalized (a
// tag that cannot be one is an error).
func saveTags(ctx context.Context, q querier, a *portal.API) error {
	tags, err := portal.CleanTags(a.Tags)
	if err != nil {
		return fmt.Errorf("API tags: %w", err)
	}
	a.Tags = tags
	if _, err := exec(ctx, q, `DELETE FROM api_tags WHERE api_id = $1`, a.ID); err != nil {
		return fmt.Errorf("API tags: %w", err)
	}
	if _, err := exec(ctx, q, `INSERT INTO api_tags (api_id, tag, position)
		SELECT $1, tag, position - 1 FROM unnest($2::text[]) WITH ORDINALITY AS t (tag, position)`, a.ID, tags); err != nil {
		return fmt.Errorf("API tags: %w", err)
	}
	return nil
}

// reindex writes the search words and sort key of the API id, from what q
// holds of it.
func reindex(ctx context.Context, q querier, id int64) error {
	a := portal.API{ID: id}
	var paths []string
	if err := queryRow(ctx, q, `SELECT name, version, description, context,
			ARRAY(SELECT tag FROM api_tags WHERE api_id = $1 ORDER BY position),
			ARRAY(SELECT path FROM api_resources WHERE api_id = $1)
		FROM apis WHERE id = $1`, id).Scan(&a.Name, &a.Version, &a.Description, &a.Context, &a.Tags, &paths); err != nil {
		return notFound(fmt.Sprintf("index API %d", id), err)
	}
	for _, p := range paths {
		a.Resources = append(a.Resources, portal.Resource{Path: p})
	}
	// array_to_tsvector takes the words as they are: neither parser nor
	// dictionary changes them.
	if _, err := exec(ctx, q, `INSERT INTO api_search (api_id, words, sort_key) VALUES ($1, array_to_tsvector($2::text[]), $3)
		ON CONFLICT (api_id) DO UPDATE SET words = excluded.words, sort_key = excluded.sort_key`,
		id, portal.SearchDocument(&a), portal.SortKey(a.Name, a.Version)); err != nil {
		return fmt.Errorf("index API %d: %w", id, err)
	}
	return nil
}

// indexMissing indexes the APIs the search index lacks: those made before
// it existed.
func (d *DB) indexMissing(ctx context.Context) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		rows, err := query(ctx, tx, `SELECT id FROM apis WHERE id NOT IN (SELECT api_id FROM api_search)`)
		if err != nil {
			return fmt.Errorf("index APIs: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
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

// tsquery is the query that matches words starting with each term: the
// terms hold letters, digits and marks only, and are quoted all the same.
func tsquery(terms []string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(t, `\`, `\\`), "'", "''") + "':*"
	}
	return strings.Join(parts, " & ")
}

// tenantAPIs selects, with the tenant's id as $2, the APIs a tenant's
// developers see: its own and the shared ones of active tenants (a
// deactivated tenant's APIs are not served), each shared API's tenant
// looked up by its key rather than every tenant read.
const tenantAPIs = `(a.tenant_id = $2 OR a.shared AND EXISTS (SELECT 1 FROM tenants tn WHERE tn.id = a.tenant_id AND tn.active))`

// SearchAPIs returns a page of the published APIs whose words start with
// every word of q's text and that have every tag q names, with their
// resources and tags, and how many match in all.
func (d *DB) SearchAPIs(ctx context.Context, q portal.SearchQuery) (portal.SearchPage, error) {
	tags, ok := q.FilterTags()
	if !ok {
		return portal.SearchPage{}, nil
	}
	where, args := `a.status = $1 AND `+tenantAPIs, []any{portal.APIPublished, portal.TenantIDOf(q.Tenant)}
	if terms := q.Terms(); len(terms) > 0 {
		args = append(args, tsquery(terms))
		where += ` AND a.id IN (SELECT api_id FROM api_search WHERE words @@ $` + strconv.Itoa(len(args)) + `::tsquery)`
	}
	if len(tags) > 0 {
		args = append(args, tags)
		where += ` AND a.id IN (SELECT api_id FROM api_tags WHERE tag = ANY($` + strconv.Itoa(len(args)) + `)
			GROUP BY api_id HAVING count(*) = ` + strconv.Itoa(len(tags)) + `)`
	}
	var page portal.SearchPage
	if err := queryRow(ctx, d.pool, `SELECT count(*) FROM apis a WHERE `+where, args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("search APIs: %w", err)
	}
	from, order := ` FROM api_search s JOIN apis a ON a.id = s.api_id WHERE `, `s.sort_key, s.api_id`
	if q.Sort == portal.SortNewest {
		from, order = ` FROM apis a WHERE `, `a.created_at DESC, a.id DESC`
	}
	offset, limit := q.Page()
	if page.Total == 0 || offset >= page.Total {
		return page, nil
	}
	n := len(args)
	rows, err := query(ctx, d.pool, `SELECT `+rowmap.APIColumns+from+where+` ORDER BY `+order+
		` LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2), append(args, limit, offset)...)
	if err != nil {
		return page, fmt.Errorf("search APIs: %w", err)
	}
	page.APIs, err = rowmap.AllWrapped(rows, "search APIs", rowmap.ListedAPI)
	rows.Close()
	if err != nil {
		return page, err
	}
	return page, d.details(ctx, page.APIs)
}

// PublishedTags lists the tags of the published APIs a tenant sees (its
// own and the shared ones; 0: the super tenant), the most used first.
func (d *DB) PublishedTags(ctx context.Context, tenant int64, limit int) ([]portal.TagCount, error) {
	rows, err := query(ctx, d.pool, `SELECT t.tag, count(*) FROM api_tags t JOIN apis a ON a.id = t.api_id
		WHERE a.status = $1 AND `+tenantAPIs+` GROUP BY t.tag ORDER BY count(*) DESC, t.tag LIMIT $3`,
		portal.APIPublished, portal.TenantIDOf(tenant), limit)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (portal.TagCount, error) {
		var t portal.TagCount
		return t, r.Scan(&t.Tag, &t.Count)
	})
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	return out, nil
}

// details loads the resources and tags of apis: two queries, whatever
// their number.
func (d *DB) details(ctx context.Context, apis []portal.API) error {
	if len(apis) == 0 {
		return nil
	}
	ids := make([]int64, len(apis))
	for i := range apis {
		ids[i] = apis[i].ID
	}
	res, err := d.resources(ctx, ids)
	if err != nil {
		return err
	}
	rows, err := query(ctx, d.pool, `SELECT api_id, tag FROM api_tags WHERE api_id = ANY($1) ORDER BY api_id, position`, ids)
	if err != nil {
		return fmt.Errorf("load API tags: %w", err)
	}
	tags := map[int64][]string{}
	var id int64
	var tag string
	if _, err := pgx.ForEachRow(rows, []any{&id, &tag}, func() error {
		tags[id] = append(tags[id], tag)
		return nil
	}); err != nil {
		return fmt.Errorf("load API tags: %w", err)
	}
	for i := range apis {
		apis[i].Resources, apis[i].Tags = res[apis[i].ID], tags[apis[i].ID]
	}
	return nil
}
