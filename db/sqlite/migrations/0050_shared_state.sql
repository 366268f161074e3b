-- State that every process serving the database shares, so that nothing
-- which changes behaviour is kept by one of them alone: the keys of the
-- store's session cookies, the brute-force counters and the tier limits'
-- counts. None of it is seen by the validation caches, so no table here
-- bumps the access generation.

-- Named secrets that cannot be hashed because they are used: the session
-- cookies' signing and encryption keys.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- Failed log-ins per counter: a username ('u:alice'), a client address
-- ('a:192.0.2.1') or a consumer key ('c:KEY').
CREATE TABLE login_counts (
    key          TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL -- Unix milliseconds
) WITHOUT ROWID;

-- Password checks under way, one row per counter they are reserved under,
-- so that concurrent guesses cannot outrun the count. A reservation whose
-- process died expires on its own.
CREATE TABLE login_reservations (
    id         INTEGER NOT NULL,
    key        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key, id)
) WITHOUT ROWID;
CREATE INDEX login_reservations_id ON login_reservations (id);

-- Calls counted against a tier's limit in the current one-minute window,
-- per application, API and key type.
CREATE TABLE quota_windows (
    app_id       INTEGER NOT NULL,
    api_id       INTEGER NOT NULL,
    key_type     TEXT    NOT NULL,
    window_start INTEGER NOT NULL, -- Unix milliseconds
    used         INTEGER NOT NULL,
    PRIMARY KEY (app_id, api_id, key_type)
) WITHOUT ROWID;
