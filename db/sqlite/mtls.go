package sqlite

import (
	"context"
	"fmt"

	"github.com/apistore/apistore/oauth"
)

// SetApplicationTLSAuth registers how an application's keys authenticate
// with a TLS client certificate (RFC 8705 §2); the zero TLSAuth returns
// them to their consumer secrets. An unknown application is ErrNotFound.
func (d *DB) SetApplicationTLSAuth(ctx context.Context, appID int64, a oauth.TLSAuth) error {
	res, err := d.w.ExecContext(ctx, `UPDATE applications SET tls_auth_method = ?, tls_subject_kind = ?, tls_subject = ?,
		tls_certs = ?, tls_cert_pem = ? WHERE id = ?`, a.Method, a.SubjectKind, a.Subject, oauth.JoinThumbprints(a.Certs), a.CertsPEM, appID)
	return oneRow(res, err, fmt.Sprintf("set TLS client authentication of application %d", appID))
}
