package rowmap

import (
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// ClientColumns are the columns of a consumer key k with its application
// a, owner u and tenant tn that ScanClient scans.
const ClientColumns = `k.id, k.consumer_key, k.secret_hash, k.key_type, k.grant_types, k.callback_url,
	k.app_token_validity, k.user_token_validity, k.refresh_token_validity,
	a.id, a.name, a.jwt_access_tokens, u.id, u.username, u.roles, a.tls_auth_method, a.tls_subject_kind, a.tls_subject, a.tls_certs,
	a.dpop_required, tn.domain`

// ScanClient scans a row of ClientColumns.
func ScanClient(row Row) (*oauth.Client, error) {
	var c oauth.Client
	var secret []byte
	var keyType, grants, roles, certs string
	var appV, userV, refreshV int64
	if err := row.Scan(&c.KeyID, &c.ConsumerKey, &secret, &keyType, &grants,
		&c.CallbackURL, &appV, &userV, &refreshV, &c.AppID, &c.AppName, &c.JWTAccessTokens, &c.OwnerID, &c.Owner, &roles,
		&c.TLSAuth.Method, &c.TLSAuth.SubjectKind, &c.TLSAuth.Subject, &certs, &c.DPoPRequired, &c.Tenant); err != nil {
		return nil, err
	}
	copy(c.SecretHash[:], secret)
	c.KeyType = oauth.KeyType(keyType)
	c.GrantTypes = strings.Fields(grants)
	c.OwnerRoles = strings.Fields(roles)
	c.TLSAuth.Certs = oauth.ParseThumbprints(certs)
	c.Validity = oauth.Validity{AppToken: fromSeconds(appV), UserToken: fromSeconds(userV), RefreshToken: fromSeconds(refreshV)}
	return &c, nil
}

func fromSeconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// ApplicationColumns are the columns of an application that
// ScanApplication scans.
const ApplicationColumns = `id, owner_id, name, description, callback_url, tier, created_at, jwt_access_tokens, dpop_required,
	tls_auth_method, tls_subject_kind, tls_subject, tls_certs, tls_cert_pem`

// ScanApplication scans a row of ApplicationColumns.
func ScanApplication(row Row) (*portal.Application, error) {
	var a portal.Application
	var created int64
	var certs string
	if err := row.Scan(&a.ID, &a.OwnerID, &a.Name, &a.Description, &a.CallbackURL, &a.Tier, &created, &a.JWTAccessTokens, &a.DPoPRequired,
		&a.TLSAuth.Method, &a.TLSAuth.SubjectKind, &a.TLSAuth.Subject, &certs, &a.TLSAuth.CertsPEM); err != nil {
		return nil, err
	}
	a.CreatedAt = time.UnixMilli(created)
	a.TLSAuth.Certs = oauth.ParseThumbprints(certs)
	return &a, nil
}

// StoreKeys stores the production and sandbox keys of the application
// appID, each made by newKey, with insert, up to its first error.
func StoreKeys(appID int64, newKey func(oauth.KeyType) *oauth.Client, insert func(*oauth.Client) error) error {
	for _, kt := range []oauth.KeyType{oauth.Production, oauth.Sandbox} {
		c := newKey(kt)
		c.AppID = appID
		if err := insert(c); err != nil {
			return err
		}
	}
	return nil
}
