-- The access generation: a counter that every change able to alter what a
-- cache of validations holds bumps in the same transaction, by trigger, for
-- every connection, process and node alike. Caches (db/cache.go, the
-- gateway's snapshot) are kept per generation, so they survive the commits
-- that change nothing they hold: new tokens, refresh tokens marked used,
-- codes, sessions, consents, usage and audit rows. A change to a table
-- below, or to a token other than marking its refresh token used, or the
-- removal of a token not revoked, starts a new generation. SQLite's 0023,
-- with two differences of PostgreSQL's making:
--
-- - The triggers are per statement, not per row: each sees the rows its
--   statement changed (transition tables) and bumps once when one of them
--   matters, so revoking ten thousand tokens is one bump, and a statement
--   that changed no row bumps nothing.
-- - Each of these tables also has a BEFORE trigger per statement that locks
--   the counter's row before the statement touches any row of its own.
--   Writers here are concurrent, and the bump, at the end of a statement,
--   would otherwise take the counter after the statement's row locks: a
--   transaction that bumped in one statement and waits for a row in the
--   next (ReplaceSecret, a cascading delete) and one that holds that row
--   and waits for the counter would deadlock. Taking the counter first is
--   one lock order for all. It serialises the changes that may bump, as
--   SQLite's single writer does, and nothing else: new tokens, refresh
--   rotations and code redemptions never lock it (an UPDATE of tokens takes
--   the lock only when it sets one of the columns the caches read).
--
-- A new table whose rows a cache reads needs the same triggers.

CREATE TABLE access_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT  NOT NULL
);
INSERT INTO access_generation (id, n) VALUES (1, 0);

CREATE FUNCTION access_generation_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM access_generation WHERE id = 1 FOR NO KEY UPDATE;
    RETURN NULL;
END
$$;

-- Bumps when the statement changed a row (its transition table "changed").
CREATE FUNCTION access_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        UPDATE access_generation SET n = n + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'applications', 'consumer_keys', 'scopes', 'apis', 'api_resources', 'subscriptions'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_lock_access BEFORE INSERT OR UPDATE OR DELETE ON %1$I
            FOR EACH STATEMENT EXECUTE FUNCTION access_generation_lock()', t);
        EXECUTE format('CREATE TRIGGER %1$s_insert_access AFTER INSERT ON %1$I REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION access_generation_bump()', t);
        EXECUTE format('CREATE TRIGGER %1$s_update_access AFTER UPDATE ON %1$I REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION access_generation_bump()', t);
        EXECUTE format('CREATE TRIGGER %1$s_delete_access AFTER DELETE ON %1$I REFERENCING OLD TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION access_generation_bump()', t);
    END LOOP;
END
$$;

-- Tokens: an update that changes what a validation reads, or the deletion
-- of a token not revoked. Marking refresh tokens used does neither.
CREATE FUNCTION tokens_update_access() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_tokens b JOIN new_tokens a ON a.id = b.id
            WHERE a.revoked IS DISTINCT FROM b.revoked OR a.expires_at IS DISTINCT FROM b.expires_at
                OR a.scopes IS DISTINCT FROM b.scopes OR a.key_id IS DISTINCT FROM b.key_id
                OR a.user_id IS DISTINCT FROM b.user_id OR a.access_hash IS DISTINCT FROM b.access_hash
                OR a.grant_type IS DISTINCT FROM b.grant_type) THEN
        UPDATE access_generation SET n = n + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION tokens_delete_access() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed WHERE NOT revoked) THEN
        UPDATE access_generation SET n = n + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tokens_lock_access
    BEFORE UPDATE OF revoked, expires_at, scopes, key_id, user_id, access_hash, grant_type OR DELETE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION access_generation_lock();
CREATE TRIGGER tokens_update_access AFTER UPDATE ON tokens REFERENCING OLD TABLE AS old_tokens NEW TABLE AS new_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION tokens_update_access();
CREATE TRIGGER tokens_delete_access AFTER DELETE ON tokens REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION tokens_delete_access();
