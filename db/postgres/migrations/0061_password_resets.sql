-- Password reset links (the store's "Forgot your password?" page and
-- apistore user reset-link): a 256-bit random token, kept only as its
-- SHA-256, good for one user until it expires or is used. Using one, or
-- any new password, deletes the user's others. The validation caches never
-- read these rows, so nothing here bumps the access generation (the
-- password change a link makes does, through users). SQLite's 0061.

CREATE TABLE password_resets (
    token_hash BYTEA  PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL, -- Unix milliseconds
    expires_at BIGINT NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id);
CREATE INDEX password_resets_expiry ON password_resets (expires_at);

-- A reset may be asked for by email address, in any case (ASCII letters,
-- as SQLite's NOCASE; see 0001).
CREATE INDEX users_email ON users (lower(email));
