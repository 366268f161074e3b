-- Store log-in sessions. The session cookie carries a random session id;
-- only its SHA-256 is kept here, so logging out (or deleting the user) ends
-- the session on the server, not just in the browser. SQLite's 0010.

CREATE TABLE sessions (
    id_hash    BYTEA  PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
