-- Issue 17 part 4: an application whose access tokens are JWTs (RFC 9068)
-- signed with the signing keys of 0105, rather than opaque strings. Either
-- kind is stored as its SHA-256 hash and validated the same way.

ALTER TABLE applications ADD COLUMN jwt_access_tokens BOOLEAN NOT NULL DEFAULT false;
