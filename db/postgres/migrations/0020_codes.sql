-- Authorization codes (RFC 6749 §4.1.2), stored only as SHA-256 hashes.
-- A used code keeps the refresh family of the tokens issued from it, so that
-- a replay can revoke them; it is deleted once those tokens are gone.
-- SQLite's 0020.

CREATE TABLE codes (
    hash             BYTEA            PRIMARY KEY,
    key_id           BIGINT           NOT NULL REFERENCES consumer_keys (id) ON DELETE CASCADE,
    user_id          BIGINT           NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri     TEXT COLLATE "C" NOT NULL DEFAULT '', -- as sent; empty when omitted
    scopes           TEXT COLLATE "C" NOT NULL,            -- space-separated
    challenge        TEXT COLLATE "C" NOT NULL DEFAULT '', -- PKCE code_challenge; empty: none
    challenge_method TEXT COLLATE "C" NOT NULL DEFAULT '',
    issued_at        BIGINT           NOT NULL,
    expires_at       BIGINT           NOT NULL,
    used             BOOLEAN          NOT NULL DEFAULT false,
    family_id        BYTEA                                 -- set when redeemed
);
CREATE INDEX codes_key ON codes (key_id);
CREATE INDEX codes_user ON codes (user_id);
