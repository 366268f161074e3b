-- Issue 17 part 4: the keys that sign JWT access tokens (RFC 9068) and the
-- gateway's backend JWTs, shared by every node and kept across restarts,
-- as the session keys are (0050). A key cannot be hashed, being used.
-- The newest key not retired signs; "apistore keys rotate" adds one and
-- retires the others, which stay published in the JWK Set until
-- published_until, past the expiry of the last token each signed. Not seen
-- by the validation caches: no access generation.

CREATE TABLE signing_keys (
    id              TEXT    PRIMARY KEY, -- kid: RFC 7638 thumbprint
    private_key     BYTEA   NOT NULL, -- PKCS #8, DER
    created_at      BIGINT  NOT NULL, -- Unix milliseconds
    retired_at      BIGINT,           -- NULL: current
    published_until BIGINT  NOT NULL DEFAULT 0
);
