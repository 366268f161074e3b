package postgres

import (
	"context"
	"fmt"

	"github.com/apistore/apistore/oauth"
)

// SetApplicationTLSAuth registers how an application's keys authenticate
// with a TLS client certificate (RFC 8705 §2); the zero TLSAuth returns
// them to their consumer secrets. An unknown application is ErrNotFound.
func (d *DB) SetApplicationTLSAuth(ctx context.Context, appID int64, a oauth.TLSAuth) error {
	tag, err := d.exec(ctx, `UPDATE applications SET tls_auth_method = $1, tls_subject_kind = $2, tls_subject = $3,
		tls_certs = $4, tls_cert_pem = $5 WHERE id = $6`, a.Method, a.SubjectKind, a.Subject, oauth.JoinThumbprints(a.Certs), a.CertsPEM, appID)
	return oneRow(tag, err, fmt.Sprintf("set TLS client authentication of application %d", appID))
}
