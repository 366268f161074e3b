-- State that every process serving the database shares, so that nothing
-- which changes behaviour is kept by one of them alone: the keys of the
-- store's session cookies, the brute-force counters and the tier limits'
-- counts. None of it is seen by the validation caches, so no table here
-- bumps the access generation. SQLite's 0050, with one difference: the
-- brute-force counters' keys are BYTEA, not text. They hold what a client
-- typed or sent (a username, a consumer key), which may be any bytes; SQLite
-- keeps those in its text, PostgreSQL's text refuses NUL bytes and invalid
-- UTF-8, and a guess must be counted whatever it holds.

-- Named secrets that cannot be hashed because they are used: the session
-- cookies' signing and encryption keys.
CREATE TABLE secrets (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA            NOT NULL
);

-- Failed log-ins per counter: a username ('u:alice'), a client address
-- ('a:192.0.2.1') or a consumer key ('c:KEY').
CREATE TABLE login_counts (
    key          BYTEA   PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure BIGINT  NOT NULL -- Unix milliseconds
);

-- Password checks under way, one row per counter they are reserved under,
-- so that concurrent guesses cannot outrun the count. A reservation whose
-- process died expires on its own.
CREATE TABLE login_reservations (
    id         BIGINT NOT NULL,
    key        BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (key, id)
);
CREATE INDEX login_reservations_id ON login_reservations (id);

-- Calls counted against a tier's limit in the current one-minute window,
-- per application, API and key type.
CREATE TABLE quota_windows (
    app_id       BIGINT           NOT NULL,
    api_id       BIGINT           NOT NULL,
    key_type     TEXT COLLATE "C" NOT NULL,
    window_start BIGINT           NOT NULL, -- Unix milliseconds
    used         INTEGER          NOT NULL,
    PRIMARY KEY (app_id, api_id, key_type)
);
