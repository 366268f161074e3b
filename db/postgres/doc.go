package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/portal"
)

// CreateDoc adds a documentation page to the API doc.APIID.
func (d *DB) CreateDoc(ctx context.Context, doc *portal.Doc) error {
	doc.UpdatedAt = time.UnixMilli(time.Now().UnixMilli())
	err := writeRow(ctx, d.pool, `INSERT INTO api_docs (api_id, kind, title, markdown, url, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		[]any{doc.APIID, doc.Kind, doc.Title, doc.Markdown, doc.URL, doc.UpdatedAt.UnixMilli()}, &doc.ID)
	if isForeignKey(err) {
		return fmt.Errorf("create documentation of API %d: %w", doc.APIID, portal.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("create documentation: %w", err)
	}
	return nil
}

// UpdateDoc saves a documentation page of the API doc.APIID.
func (d *DB) UpdateDoc(ctx context.Context, doc *portal.Doc) error {
	doc.UpdatedAt = time.UnixMilli(time.Now().UnixMilli())
	tag, err := d.exec(ctx, `UPDATE api_docs SET kind = $1, title = $2, markdown = $3, url = $4, updated_at = $5
		WHERE id = $6 AND api_id = $7`, doc.Kind, doc.Title, doc.Markdown, doc.URL, doc.UpdatedAt.UnixMilli(), doc.ID, doc.APIID)
	return oneRow(tag, err, fmt.Sprintf("update documentation %d of API %d", doc.ID, doc.APIID))
}

// DeleteDoc deletes a documentation page of an API.
func (d *DB) DeleteDoc(ctx context.Context, apiID, id int64) error {
	tag, err := d.exec(ctx, `DELETE FROM api_docs WHERE id = $1 AND api_id = $2`, id, apiID)
	return oneRow(tag, err, fmt.Sprintf("delete documentation %d of API %d", id, apiID))
}

// DocOfAPI returns a documentation page of an API.
func (d *DB) DocOfAPI(ctx context.Context, apiID, id int64) (*portal.Doc, error) {
	doc, err := rowmap.ScanDoc(queryRow(ctx, d.pool, `SELECT `+rowmap.DocColumns+` FROM api_docs WHERE id = $1 AND api_id = $2`, id, apiID))
	if err != nil {
		return nil, notFound(fmt.Sprintf("documentation %d of API %d", id, apiID), err)
	}
	return doc, nil
}

// DocsOfAPI lists an API's documentation pages by kind (in
// portal.DocKinds' order), then title.
func (d *DB) DocsOfAPI(ctx context.Context, apiID int64) ([]portal.Doc, error) {
	rows, err := query(ctx, d.pool, `SELECT `+rowmap.DocColumns+` FROM api_docs WHERE api_id = $1
		ORDER BY CASE kind WHEN 'howto' THEN 0 WHEN 'faq' THEN 1 WHEN 'changelog' THEN 2 ELSE 3 END, title, id`, apiID)
	if err != nil {
		return nil, fmt.Errorf("list documentation: %w", err)
	}
	defer rows.Close()
	return rowmap.AllWrapped(rows, "list documentation", rowmap.Value(rowmap.ScanDoc))
}
