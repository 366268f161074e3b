package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// execer is a connection or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// CreateApplication stores a new application; a name the owner already uses
// (in any case) is ErrConflict.
func (d *DB) CreateApplication(ctx context.Context, a *portal.Application) error {
	return insertApplication(ctx, d.w, a)
}

func insertApplication(ctx context.Context, ex execer, a *portal.Application) error {
	res, err := ex.ExecContext(ctx, `INSERT INTO applications (owner_id, name, description, callback_url, tier, created_at,
		jwt_access_tokens, dpop_required) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.OwnerID, a.Name, a.Description, a.CallbackURL, a.Tier, time.Now().UnixMilli(),
		a.JWTAccessTokens, a.DPoPRequired)
	if isUnique(err) {
		return fmt.Errorf("create application %q: %w", a.Name, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create application: %w", err)
	}
	a.ID, err = res.LastInsertId()
	return err
}

// CreateKey stores a consumer key for c.AppID and c.KeyType (only the
// secret's hash is given); an application has at most one key of each type.
func (d *DB) CreateKey(ctx context.Context, c *oauth.Client) error {
	return insertKey(ctx, d.w, c)
}

func insertKey(ctx context.Context, ex execer, c *oauth.Client) error {
	res, err := ex.ExecContext(ctx, `INSERT INTO consumer_keys (app_id, key_type, consumer_key, secret_hash, grant_types,
		callback_url, app_token_validity, user_token_validity, refresh_token_validity, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.AppID, string(c.KeyType), c.ConsumerKey, c.SecretHash[:], joinWords(c.GrantTypes), c.CallbackURL,
		seconds(c.Validity.AppToken), seconds(c.Validity.UserToken), seconds(c.Validity.RefreshToken), time.Now().UnixMilli())
	if isUnique(err) {
		return fmt.Errorf("create %s key: %w", c.KeyType, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	c.KeyID, err = res.LastInsertId()
	return err
}

const clientQuery = `SELECT ` + rowmap.ClientColumns + `
	FROM consumer_keys k JOIN applications a ON a.id = k.app_id JOIN users u ON u.id = a.owner_id
	JOIN tenants tn ON tn.id = u.tenant_id AND tn.active = 1
	WHERE k.consumer_key = ? AND u.disabled_at IS NULL`

// ClientByKey returns a consumer key with its application, owner and
// tenant; the keys of a disabled user's applications, and of a deactivated
// tenant's, are not found.
func (d *DB) ClientByKey(ctx context.Context, consumerKey string) (*oauth.Client, error) {
	c, err := rowmap.ScanClient(d.queryRow(ctx, clientQuery, consumerKey))
	if err != nil {
		return nil, notFound("consumer key", err)
	}
	return c, nil
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// CreateApplicationWithKeys stores an application and its production and
// sandbox keys in one transaction; newKey makes each key (the application id
// is filled in here).
func (d *DB) CreateApplicationWithKeys(ctx context.Context, a *portal.Application, newKey func(oauth.KeyType) *oauth.Client) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		if err := insertApplication(ctx, tx, a); err != nil {
			return err
		}
		return rowmap.StoreKeys(a.ID, newKey, func(c *oauth.Client) error { return insertKey(ctx, tx, c) })
	})
}

// ApplicationsByOwner lists a user's applications by name.
func (d *DB) ApplicationsByOwner(ctx context.Context, ownerID int64) ([]portal.Application, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+rowmap.ApplicationColumns+` FROM applications
		WHERE owner_id = ? ORDER BY name COLLATE NOCASE`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list applications", rowmap.Value(rowmap.ScanApplication))
}

// OwnedApplication returns the application id of ownerID; another owner's
// application is ErrNotFound, as if it did not exist.
func (d *DB) OwnedApplication(ctx context.Context, ownerID, id int64) (*portal.Application, error) {
	a, err := rowmap.ScanApplication(d.r.QueryRowContext(ctx, `SELECT `+rowmap.ApplicationColumns+` FROM applications
		WHERE id = ? AND owner_id = ?`, id, ownerID))
	if err != nil {
		return nil, notFound(fmt.Sprintf("application %d", id), err)
	}
	return a, nil
}

// UpdateApplication saves a.Name, Description, CallbackURL and Tier of an
// application of a.OwnerID; a name the owner already uses is ErrConflict.
func (d *DB) UpdateApplication(ctx context.Context, a *portal.Application) error {
	res, err := d.w.ExecContext(ctx, `UPDATE applications SET name = ?, description = ?, callback_url = ?, tier = ?
		WHERE id = ? AND owner_id = ?`, a.Name, a.Description, a.CallbackURL, a.Tier, a.ID, a.OwnerID)
	if isUnique(err) {
		return fmt.Errorf("rename application to %q: %w", a.Name, portal.ErrConflict)
	}
	return oneRow(res, err, fmt.Sprintf("update application %d", a.ID))
}

// DeleteApplication deletes an application of ownerID with its keys,
// tokens, codes and subscriptions (foreign keys cascade): all its access
// ends at once.
func (d *DB) DeleteApplication(ctx context.Context, ownerID, id int64) error {
	res, err := d.w.ExecContext(ctx, `DELETE FROM applications WHERE id = ? AND owner_id = ?`, id, ownerID)
	return oneRow(res, err, fmt.Sprintf("delete application %d", id))
}

// oneRow checks that a write changed a row: none is ErrNotFound.
func oneRow(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return fmt.Errorf("%s: %w", what, portal.ErrNotFound)
	}
	return nil
}

// SetApplicationDPoP sets whether an application of ownerID requires DPoP
// (RFC 9449) of its keys' token requests.
func (d *DB) SetApplicationDPoP(ctx context.Context, ownerID, id int64, required bool) error {
	res, err := d.w.ExecContext(ctx, `UPDATE applications SET dpop_required = ? WHERE id = ? AND owner_id = ?`, required, id, ownerID)
	return oneRow(res, err, fmt.Sprintf("set DPoP of application %d", id))
}
