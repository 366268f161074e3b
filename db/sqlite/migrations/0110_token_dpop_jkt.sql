-- Issue 17 part 2 (DPoP, RFC 9449): the SHA-256 JWK thumbprint (base64url,
-- RFC 7638) of the key a token was bound to at issuance, reported as
-- cnf.jkt by introspection and checked by the gateway on every call. NULL
-- for a bearer token. A thumbprint is public (it names a public key), so
-- it is kept as it is, not hashed.

ALTER TABLE tokens ADD COLUMN jkt TEXT;
