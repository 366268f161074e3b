-- Issue 17 part 2 (DPoP, RFC 9449 §11.1): the DPoP proofs accepted, so that
-- a proof is accepted once by the whole cluster. hash is SHA-256 of the
-- key's thumbprint and the proof's jti; a row is kept until the proof is
-- stale anyway (its iat plus the acceptance window), then the cleanup job
-- drops it. No trigger moves the access generation: a new proof changes
-- nothing the gateway caches.

CREATE TABLE dpop_proofs (
    hash       BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
