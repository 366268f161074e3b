package rowmap

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// Consent scans a row of application id and name, owner, scopes, whether
// remembered and when approved into a consent of userID.
func Consent(userID int64) func(Row) (portal.Consent, error) {
	return func(row Row) (portal.Consent, error) {
		c := portal.Consent{UserID: userID}
		var scopes string
		var approved int64
		err := row.Scan(&c.AppID, &c.AppName, &c.Owner, &scopes, &c.Remember, &approved)
		c.Scopes = strings.Fields(scopes)
		c.ApprovedAt = time.UnixMilli(approved)
		return c, err
	}
}

// AuditEvent scans a row of an audit event's id, time, event, username,
// client, remote address, detail, tenant id and tenant domain.
func AuditEvent(row Row) (portal.AuditEvent, error) {
	var e portal.AuditEvent
	var at int64
	err := row.Scan(&e.ID, &at, &e.Event, &e.Username, &e.Client, &e.Remote, &e.Detail, &e.TenantID, &e.Tenant)
	e.At = time.UnixMilli(at)
	return e, err
}

// Subscription scans a row of a subscription's id, application id and
// name, API id, name, version, context, status and tiers, tier, creation
// time and the application's owner.
func Subscription(row Row) (portal.Subscription, error) {
	var s portal.Subscription
	var created int64
	var tiers string
	err := row.Scan(&s.ID, &s.AppID, &s.AppName, &s.APIID, &s.APIName, &s.APIVersion, &s.APIContext,
		&s.APIStatus, &tiers, &s.Tier, &created, &s.Owner)
	s.APITiers = strings.Fields(tiers)
	s.CreatedAt = time.UnixMilli(created)
	return s, err
}

// TenantColumns are the columns of a tenant that ScanTenant scans.
const TenantColumns = `id, domain, active, created_at`

// ScanTenant scans a row of TenantColumns.
func ScanTenant(row Row) (t portal.Tenant, err error) {
	var created int64
	err = row.Scan(&t.ID, &t.Domain, &t.Active, &created)
	t.CreatedAt = time.UnixMilli(created)
	return t, err
}

// TierColumns are the columns of a custom tier that ScanTier scans.
const TierColumns = `tenant_id, name, rpm, description`

// ScanTier scans a row of TierColumns.
func ScanTier(row Row) (t portal.Tier, err error) {
	err = row.Scan(&t.TenantID, &t.Name, &t.RPM, &t.Description)
	t.Custom = true
	return t, err
}

// UserStoreColumns are the columns of a user store that ScanUserStore
// scans.
const UserStoreColumns = `id, tenant, domain, url, bind_dn, bind_password, user_search_base,
	user_filter, user_attribute, group_search_base, role_map, created_at`

// ScanUserStore scans a row of UserStoreColumns.
func ScanUserStore(row Row) (s portal.UserStore, err error) {
	var roleMap string
	var created int64
	err = row.Scan(&s.ID, &s.Tenant, &s.Domain, &s.URL, &s.BindDN, &s.BindPassword, &s.UserSearchBase,
		&s.UserFilter, &s.UserAttribute, &s.GroupSearchBase, &roleMap, &created)
	s.RoleMap, s.CreatedAt = portal.ParseRoleMap(roleMap), time.UnixMilli(created)
	return s, err
}

// StoreUser scans a row of a user's id, username, whether disabled and
// whether disabled by the user store's sync.
func StoreUser(row Row) (su portal.StoreUser, err error) {
	err = row.Scan(&su.ID, &su.Username, &su.Disabled, &su.DisabledByStore)
	return su, err
}

// DocColumns are the columns of a documentation page that ScanDoc scans.
const DocColumns = `id, api_id, kind, title, markdown, url, updated_at`

// ScanDoc scans a row of DocColumns.
func ScanDoc(row Row) (*portal.Doc, error) {
	var doc portal.Doc
	var updated int64
	if err := row.Scan(&doc.ID, &doc.APIID, &doc.Kind, &doc.Title, &doc.Markdown, &doc.URL, &updated); err != nil {
		return nil, err
	}
	doc.UpdatedAt = time.UnixMilli(updated)
	return &doc, nil
}

// Scope scans a row of a scope's name, description and roles.
func Scope(row Row) (oauth.Scope, error) {
	var s oauth.Scope
	var roles string
	err := row.Scan(&s.Name, &s.Description, &roles)
	s.Roles = strings.Fields(roles)
	return s, err
}

// SigningKey scans a row of a signing key's id, private key, creation,
// retirement (NULL: current) and end of publication times.
func SigningKey(row Row) (oauth.SigningKey, error) {
	var k oauth.SigningKey
	var created, until int64
	var retired *int64
	err := row.Scan(&k.ID, &k.Private, &created, &retired, &until)
	k.CreatedAt, k.RetiredAt, k.PublishedUntil = time.UnixMilli(created), FromMillis(retired), time.UnixMilli(until)
	return k, err
}

// CodeColumns are the columns of an authorization code that ScanCode
// scans.
const CodeColumns = `key_id, user_id, redirect_uri, scopes, challenge, challenge_method,
	issued_at, expires_at, used, family_id, COALESCE(dpop_jkt, '')`

// ScanCode scans a row of CodeColumns into the code hashing to h.
func ScanCode(row Row, h oauth.Hash) (*oauth.Code, error) {
	var c oauth.Code
	var scopes string
	var issued, expires int64
	var family []byte
	if err := row.Scan(&c.KeyID, &c.UserID, &c.RedirectURI, &scopes, &c.Challenge, &c.ChallengeMethod, &issued, &expires,
		&c.Used, &family, &c.DPoPJKT); err != nil {
		return nil, err
	}
	c.Hash = h
	c.Scopes = strings.Fields(scopes)
	c.IssuedAt = time.UnixMilli(issued)
	c.ExpiresAt = time.UnixMilli(expires)
	copy(c.FamilyID[:], family)
	return &c, nil
}

// Granted is the scopes column of a consent whose scopes were before and
// that now also grants scopes: before's, then those of scopes it lacked.
func Granted(before string, scopes []string) string {
	granted := strings.Fields(before)
	for _, s := range scopes {
		if !slices.Contains(granted, s) {
			granted = append(granted, s)
		}
	}
	return strings.Join(granted, " ")
}

// SeedTenants stores seeds, portal.SeedBatch tenants per transaction, each
// batch all or nothing: inTx runs a function in a transaction of the
// store, in which insertTenant stores a tenant with its administrator and
// insertAPI one of its APIs.
func SeedTenants[Tx any](seeds []portal.TenantSeed, inTx func(func(Tx) error) error,
	insertTenant func(Tx, *portal.Tenant, *portal.User) error, insertAPI func(Tx, *portal.API) error) error {
	for batch := range slices.Chunk(seeds, portal.SeedBatch) {
		err := inTx(func(tx Tx) error {
			for _, s := range batch {
				if err := insertTenant(tx, s.Tenant, s.Admin); err != nil {
					return fmt.Errorf("tenant %q: %w", s.Tenant.Domain, err)
				}
				for _, a := range s.APIs {
					a.TenantID = s.Tenant.ID
					if err := insertAPI(tx, a); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed tenants: %w", err)
		}
	}
	return nil
}
