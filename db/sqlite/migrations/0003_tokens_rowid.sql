-- Tokens become a rowid table: new rows append at the end of the table and
-- of the key_id and user_id indexes, so a group commit writes few pages.
-- Only the access_hash index takes random positions; the family index holds
-- only tokens that continue someone else's chain (a refreshed token, or the
-- later tokens of a code), since a chain's first token is found by its
-- access_hash.

CREATE TABLE tokens_new (
    id                 INTEGER PRIMARY KEY,
    access_hash        BLOB    NOT NULL UNIQUE,
    refresh_hash       BLOB    UNIQUE,
    family_id          BLOB    NOT NULL, -- access_hash of the chain's first token
    key_id             INTEGER NOT NULL REFERENCES consumer_keys (id) ON DELETE CASCADE,
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes             TEXT    NOT NULL,
    grant_type         TEXT    NOT NULL,
    issued_at          INTEGER NOT NULL,
    expires_at         INTEGER,
    refresh_expires_at INTEGER,
    revoked            INTEGER NOT NULL DEFAULT 0,
    refresh_used       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO tokens_new (access_hash, refresh_hash, family_id, key_id, user_id, scopes, grant_type, issued_at,
    expires_at, refresh_expires_at, revoked, refresh_used)
SELECT access_hash, refresh_hash, family_id, key_id, user_id, scopes, grant_type, issued_at,
    expires_at, refresh_expires_at, revoked, refresh_used FROM tokens ORDER BY issued_at;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
CREATE INDEX tokens_family ON tokens (family_id) WHERE family_id != access_hash;
CREATE INDEX tokens_key ON tokens (key_id);
CREATE INDEX tokens_user ON tokens (user_id);
