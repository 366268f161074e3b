package sqlite

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
	res, err := d.w.ExecContext(ctx, `INSERT INTO api_docs (api_id, kind, title, markdown, url, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, doc.APIID, doc.Kind, doc.Title, doc.Markdown, doc.URL, doc.UpdatedAt.UnixMilli())
	if isForeignKey(err) {
		return fmt.Errorf("create documentation of API %d: %w", doc.APIID, portal.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("create documentation: %w", err)
	}
	doc.ID, err = res.LastInsertId()
	return err
}

// UpdateDoc saves a documentation page of the API doc.APIID.
func (d *DB) UpdateDoc(ctx context.Context, doc *portal.Doc) error {
	doc.UpdatedAt = time.UnixMilli(time.Now().UnixMilli())
	res, err := d.w.ExecContext(ctx, `UPDATE api_docs SET kind = ?, title = ?, markdown = ?, url = ?, updated_at = ?
		WHERE id = ? AND api_id = ?`, doc.Kind, doc.Title, doc.Markdown, doc.URL, doc.UpdatedAt.UnixMilli(), doc.ID, doc.APIID)
	return oneRow(res, err, fmt.Sprintf("update documentation %d of API %d", doc.ID, doc.APIID))
}

// DeleteDoc deletes a documentation page of an API.
func (d *DB) DeleteDoc(ctx context.Context, apiID, id int64) error {
	res, err := d.w.ExecContext(ctx, `DELETE FROM api_docs WHERE id = ? AND api_id = ?`, id, apiID)
	return oneRow(res, err, fmt.Sprintf("delete documentation %d of API %d", id, apiID))
}

// DocOfAPI returns a documentation page of an API.
func (d *DB) DocOfAPI(ctx context.Context, apiID, id int64) (*portal.Doc, error) {
	doc, err := rowmap.ScanDoc(d.r.QueryRowContext(ctx, `SELECT `+rowmap.DocColumns+` FROM api_docs WHERE id = ? AND api_id = ?`, id, apiID))
	if err != nil {
		return nil, notFound(fmt.Sprintf("documentation %d of API %d", id, apiID), err)
	}
	return doc, nil
}

// DocsOfAPI lists an API's documentation pages by kind (in
// portal.DocKinds' order), then title.
func (d *DB) DocsOfAPI(ctx context.Context, apiID int64) ([]portal.Doc, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+rowmap.DocColumns+` FROM api_docs WHERE api_id = ?
		ORDER BY CASE kind WHEN 'howto' THEN 0 WHEN 'faq' THEN 1 WHEN 'changelog' THEN 2 ELSE 3 END, title, id`, apiID)
	if err != nil {
		return nil, fmt.Errorf("list documentation: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list documentation", rowmap.Value(rowmap.ScanDoc))
}
