-- Authorization codes (RFC 6749 §4.1.2), stored only as SHA-256 hashes.
-- A used code keeps the refresh family of the tokens issued from it, so that
-- a replay can revoke them; it is deleted once those tokens are gone.

CREATE TABLE codes (
    hash             BLOB    PRIMARY KEY,
    key_id           INTEGER NOT NULL REFERENCES consumer_keys (id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri     TEXT    NOT NULL DEFAULT '', -- as sent; empty when omitted
    scopes           TEXT    NOT NULL,            -- space-separated
    challenge        TEXT    NOT NULL DEFAULT '', -- PKCE code_challenge; empty: none
    challenge_method TEXT    NOT NULL DEFAULT '',
    issued_at        INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    used             INTEGER NOT NULL DEFAULT 0,
    family_id        BLOB                         -- set when redeemed
) WITHOUT ROWID;
CREATE INDEX codes_key ON codes (key_id);
CREATE INDEX codes_user ON codes (user_id);
