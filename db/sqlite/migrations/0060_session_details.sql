-- What the list of a user's sessions (My account) shows of each: when it
-- was last used, from which address and which browser. The validation
-- caches never read sessions, so nothing here bumps the access generation.

ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0; -- Unix milliseconds
ALTER TABLE sessions ADD COLUMN address      TEXT    NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent   TEXT    NOT NULL DEFAULT '';
UPDATE sessions SET last_seen_at = created_at;
