package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apistore/apistore/db/internal/rowmap"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// CreateApplication stores a new application; a name the owner already uses
// (in any case) is ErrConflict.
func (d *DB) CreateApplication(ctx context.Context, a *portal.Application) error {
	return insertApplication(ctx, d.pool, a)
}

func insertApplication(ctx context.Context, q querier, a *portal.Application) error {
	err := writeRow(ctx, q, `INSERT INTO applications (owner_id, name, description, callback_url, tier, created_at,
		jwt_access_tokens, dpop_required) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		[]any{a.OwnerID, a.Name, a.Description, a.CallbackURL, a.Tier, time.Now().UnixMilli(), a.JWTAccessTokens, a.DPoPRequired}, &a.ID)
	if isUnique(err) {
		return fmt.Errorf("create application %q: %w", a.Name, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create application: %w", err)
	}
	return nil
}

// CreateKey stores a consumer key for c.AppID and c.KeyType (only the
// secret's hash is given); an application has at most one key of each type.
func (d *DB) CreateKey(ctx context.Context, c *oauth.Client) error {
	return insertKey(ctx, d.pool, c)
}

func insertKey(ctx context.Context, q querier, c *oauth.Client) error {
	err := writeRow(ctx, q, `INSERT INTO consumer_keys (app_id, key_type, consumer_key, secret_hash, grant_types,
		callback_url, app_token_validity, user_token_validity, refresh_token_validity, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		[]any{c.AppID, string(c.KeyType), c.ConsumerKey, c.SecretHash[:], joinWords(c.GrantTypes), c.CallbackURL,
			seconds(c.Validity.AppToken), seconds(c.Validity.UserToken), seconds(c.Validity.RefreshToken),
			time.Now().UnixMilli()}, &c.KeyID)
	if isUnique(err) {
		return fmt.Errorf("create %s key: %w", c.KeyType, portal.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	return nil
}

const clientQuery = `SELECT ` + rowmap.ClientColumns + `
	FROM consumer_keys k JOIN applications a ON a.id = k.app_id JOIN users u ON u.id = a.owner_id
	JOIN tenants tn ON tn.id = u.tenant_id AND tn.active
	WHERE k.consumer_key = $1 AND u.disabled_at IS NULL`

// ClientByKey returns a consumer key with its application, owner and
// tenant; the keys of a disabled user's applications, and of a deactivated
// tenant's, are not found.
func (d *DB) ClientByKey(ctx context.Context, consumerKey string) (*oauth.Client, error) {
	c, err := rowmap.ScanClient(queryRow(ctx, d.pool, clientQuery, consumerKey))
	if err != nil {
		return nil, notFound("consumer key", err)
	}
	return c, nil
}

// CreateApplicationWithKeys stores an application and its production and
// sandbox keys in one transaction; newKey makes each key (the application id
// is filled in here).
func (d *DB) CreateApplicationWithKeys(ctx context.Context, a *portal.Application, newKey func(oauth.KeyType) *oauth.Client) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		if err := insertApplication(ctx, tx, a); err != nil {
			return err
		}
		return rowmap.StoreKeys(a.ID, newKey, func(c *oauth.Client) error { return insertKey(ctx, tx, c) })
	})
}

// ApplicationsByOwner lists a user's applications by name, ignoring case
// as SQLite's NOCASE does (lower() of "C" text folds ASCII only).
func (d *DB) ApplicationsByOwner(ctx context.Context, ownerID int64) ([]portal.Application, error) {
	rows, err := query(ctx, d.pool, `SELECT `+rowmap.ApplicationColumns+` FROM applications
		WHERE owner_id = $1 ORDER BY lower(name)`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	defer rows.Close()
	return rowmap.All(rows, "list applications", rowmap.Value(rowmap.ScanApplication))
}

// OwnedApplication returns the application id of ownerID; another owner's
// application is ErrNotFound, as if it did not exist.
func (d *DB) OwnedApplication(ctx context.Context, ownerID, id int64) (*portal.Application, error) {
	a, err := rowmap.ScanApplication(queryRow(ctx, d.pool, `SELECT `+rowmap.ApplicationColumns+` FROM applications
		WHERE id = $1 AND owner_id = $2`, id, ownerID))
	if err != nil {
		return nil, notFound(fmt.Sprintf("application %d", id), err)
	}
	return a, nil
}

// UpdateApplication saves a.Name, Description, CallbackURL and Tier of an
// application of a.OwnerID; a name the owner already uses is ErrConflict.
func (d *DB) UpdateApplication(ctx context.Context, a *portal.Application) error {
	tag, err := d.exec(ctx, `UPDATE applications SET name = $1, description = $2, callback_url = $3, tier = $4
		WHERE id = $5 AND owner_id = $6`, a.Name, a.Description, a.CallbackURL, a.Tier, a.ID, a.OwnerID)
	if isUnique(err) {
		return fmt.Errorf("rename application to %q: %w", a.Name, portal.ErrConflict)
	}
	return oneRow(tag, err, fmt.Sprintf("update application %d", a.ID))
}

// DeleteApplication deletes an application of ownerID with its keys,
// tokens, codes and subscriptions (foreign keys cascade): all its access
// ends at once.
func (d *DB) DeleteApplication(ctx context.Context, ownerID, id int64) error {
	tag, err := d.exec(ctx, `DELETE FROM applications WHERE id = $1 AND owner_id = $2`, id, ownerID)
	return oneRow(tag, err, fmt.Sprintf("delete application %d", id))
}

// SetApplicationDPoP sets whether an application of ownerID requires DPoP
// (RFC 9449) of its keys' token requests.
func (d *DB) SetApplicationDPoP(ctx context.Context, ownerID, id int64, required bool) error {
	tag, err := d.exec(ctx, `UPDATE applications SET dpop_required = $1 WHERE id = $2 AND owner_id = $3`, required, id, ownerID)
	return oneRow(tag, err, fmt.Sprintf("set DPoP of application %d", id))
}
