-- What the list of a user's sessions (My account) shows of each: when it
-- was last used, from which address and which browser. The validation
-- caches never read sessions, so nothing here bumps the access generation.
-- SQLite's 0060.

ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT           NOT NULL DEFAULT 0; -- Unix milliseconds
ALTER TABLE sessions ADD COLUMN address      TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent   TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE sessions SET last_seen_at = created_at;
