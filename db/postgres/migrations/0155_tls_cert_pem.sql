-- Issue 17 part 3, the store's page: tls_cert_pem keeps the self-signed
-- certificates an application registered (RFC 8705 §2.2) as PEM, so their
-- owner sees each one's subject and expiry beside its thumbprint (tls_certs,
-- 0115, is what authentication compares). Certificates only, re-encoded from
-- their DER: no private key pasted along is kept. '' for registrations made
-- before (only their thumbprints are known) and for the other methods.

ALTER TABLE applications ADD COLUMN tls_cert_pem TEXT COLLATE "C" NOT NULL DEFAULT '';
