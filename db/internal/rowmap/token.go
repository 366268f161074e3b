package rowmap

import (
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
)

// TokenArgs are the arguments of a store's insertToken: ?1/$1 to ?14/$14.
func TokenArgs(t *oauth.Token) []any {
	var refresh []byte
	if t.HasRefresh() {
		refresh = t.RefreshHash[:]
	}
	var secret, cert []byte
	if !t.SecretHash.IsZero() {
		secret = t.SecretHash[:]
	}
	if !t.CertThumbprint.IsZero() {
		cert = t.CertThumbprint[:]
	}
	return []any{t.AccessHash[:], refresh, t.FamilyID[:], t.KeyID, t.UserID, strings.Join(t.Scopes, " "), t.GrantType,
		t.IssuedAt.UnixMilli(), Millis(t.ExpiresAt), Millis(t.RefreshExpiresAt), secret, cert, t.JKT, t.Partition}
}

// TokenColumns are the columns of a token t that TokenDest scans.
const TokenColumns = `t.access_hash, t.refresh_hash, t.family_id, t.key_id, t.user_id, t.scopes, t.grant_type,
	t.issued_at, t.expires_at, t.refresh_expires_at, t.revoked, t.refresh_used, t.cert_thumbprint, COALESCE(t.jkt, '')`

// TokenDest returns scan destinations for TokenColumns and a function that
// finishes t once scanned.
func TokenDest(t *oauth.Token) ([]any, func()) {
	var access, refresh, family, cert []byte
	var scopes string
	var issued int64
	var expires, refreshExpires *int64
	dest := []any{&access, &refresh, &family, &t.KeyID, &t.UserID, &scopes, &t.GrantType,
		&issued, &expires, &refreshExpires, &t.Revoked, &t.RefreshUsed, &cert, &t.JKT}
	return dest, func() {
		copy(t.AccessHash[:], access)
		copy(t.RefreshHash[:], refresh)
		copy(t.FamilyID[:], family)
		copy(t.CertThumbprint[:], cert)
		t.Scopes = strings.Fields(scopes)
		t.IssuedAt = time.UnixMilli(issued)
		t.ExpiresAt = FromMillis(expires)
		t.RefreshExpiresAt = FromMillis(refreshExpires)
	}
}
