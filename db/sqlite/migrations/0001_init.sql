-- Users, applications with their consumer keys, scopes and tokens.
-- Times are Unix milliseconds; a NULL expiry never expires. Secrets and
-- tokens are stored only as SHA-256 hashes.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    email         TEXT    NOT NULL DEFAULT '',
    roles         TEXT    NOT NULL DEFAULT '', -- space-separated
    created_at    INTEGER NOT NULL
);

CREATE TABLE applications (
    id           INTEGER PRIMARY KEY,
    owner_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    callback_url TEXT    NOT NULL DEFAULT '',
    tier         TEXT    NOT NULL DEFAULT 'Unlimited',
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX applications_owner_name ON applications (owner_id, name COLLATE NOCASE);

CREATE TABLE consumer_keys (
    id                     INTEGER PRIMARY KEY,
    app_id                 INTEGER NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    key_type               TEXT    NOT NULL CHECK (key_type IN ('PRODUCTION', 'SANDBOX')),
    consumer_key           TEXT    NOT NULL UNIQUE,
    secret_hash            BLOB    NOT NULL,
    grant_types            TEXT    NOT NULL, -- space-separated
    callback_url           TEXT    NOT NULL DEFAULT '',
    app_token_validity     INTEGER NOT NULL DEFAULT 0, -- seconds; 0: the server's setting
    user_token_validity    INTEGER NOT NULL DEFAULT 0,
    refresh_token_validity INTEGER NOT NULL DEFAULT 0,
    created_at             INTEGER NOT NULL,
    UNIQUE (app_id, key_type)
);

CREATE TABLE scopes (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    roles       TEXT NOT NULL DEFAULT '' -- space-separated; empty: anyone
);

CREATE TABLE tokens (
    access_hash        BLOB    PRIMARY KEY,
    refresh_hash       BLOB    UNIQUE,
    family_id          BLOB    NOT NULL,
    key_id             INTEGER NOT NULL REFERENCES consumer_keys (id) ON DELETE CASCADE,
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes             TEXT    NOT NULL,
    grant_type         TEXT    NOT NULL,
    issued_at          INTEGER NOT NULL,
    expires_at         INTEGER,
    refresh_expires_at INTEGER,
    revoked            INTEGER NOT NULL DEFAULT 0,
    refresh_used       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX tokens_family ON tokens (family_id);
CREATE INDEX tokens_key ON tokens (key_id);
CREATE INDEX tokens_user ON tokens (user_id);
