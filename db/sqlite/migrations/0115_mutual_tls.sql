-- Issue 17 part 3: mutual TLS (RFC 8705).
--
-- cert_thumbprint: the SHA-256 of the DER of the client certificate an
-- access token is bound to (§3, cnf.x5t#S256); NULL for a token that is not
-- bound. The gateway accepts a bound token only on a connection presenting
-- that certificate.
--
-- An application's certificate authentication (§2): tls_auth_method is ''
-- (the consumer secret), 'tls_client_auth' or 'self_signed_tls_client_auth';
-- tls_subject_kind and tls_subject name the subject a tls_client_auth
-- certificate must carry (subject_dn, san_dns, san_uri, san_ip or
-- san_email, §2.1.2); tls_certs holds the hex SHA-256 of each registered
-- self-signed certificate, separated by spaces (certificates, not secrets:
-- nothing here lets anyone authenticate without the private key). Updates of
-- applications start a new access generation (0023), so cached keys follow.

ALTER TABLE tokens ADD COLUMN cert_thumbprint BLOB;
ALTER TABLE applications ADD COLUMN tls_auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN tls_subject_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN tls_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN tls_certs TEXT NOT NULL DEFAULT '';
