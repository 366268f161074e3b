package sqlite

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/apistore/apistore/oauth"
)

// SetApplicationTLSAuth registers how an application's keys authenticate
// with a TLS client certificate (RFC 8705 §2); the zero TLSAuth returns
// them to their consumer secrets. An unknown application is ErrNotFound.
func (d *DB) SetApplicationTLSAuth(ctx context.Context, appID int64, a oauth.TLSAuth) error {
	res, err := d.w.ExecContext(ctx, `UPDATE applications SET tls_auth_method = ?, tls_subject_kind = ?, tls_subject = ?,
		tls_certs = ? WHERE id = ?`, a.Method, a.SubjectKind, a.Subject, joinThumbprints(a.Certs), appID)
	return oneRow(res, err, fmt.Sprintf("set TLS client authentication of application %d", appID))
}

// joinThumbprints writes the tls_certs column: hex, separated by spaces.
func joinThumbprints(hs []oauth.Hash) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return strings.Join(out, " ")
}

// thumbprints reads the tls_certs column; what is not a thumbprint (never
// written so) is left out.
func thumbprints(s string) []oauth.Hash {
	var out []oauth.Hash
	for _, w := range strings.Fields(s) {
		var h oauth.Hash
		if b, err := hex.DecodeString(w); err == nil && len(b) == len(h) {
			copy(h[:], b)
			out = append(out, h)
		}
	}
	return out
}
