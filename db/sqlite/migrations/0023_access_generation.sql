-- The access generation: a counter that every change able to alter what a
-- cache of validations holds bumps in the same transaction, by trigger, for
-- every connection and process alike. Caches (db/cache.go, the gateway's
-- snapshot) are kept per generation, so they survive the commits that change
-- nothing they hold: new tokens, refresh tokens marked used, codes, sessions,
-- consents, usage and audit rows. A change to a table below, or to a token
-- other than marking its refresh token used, or the removal of a token not
-- revoked, starts a new generation.
--
-- A new table whose rows a cache reads needs the same triggers.

CREATE TABLE access_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO access_generation (id, n) VALUES (1, 0);

CREATE TRIGGER users_insert_access AFTER INSERT ON users
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER users_update_access AFTER UPDATE ON users
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER users_delete_access AFTER DELETE ON users
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER applications_insert_access AFTER INSERT ON applications
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER applications_update_access AFTER UPDATE ON applications
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER applications_delete_access AFTER DELETE ON applications
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER consumer_keys_insert_access AFTER INSERT ON consumer_keys
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER consumer_keys_update_access AFTER UPDATE ON consumer_keys
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER consumer_keys_delete_access AFTER DELETE ON consumer_keys
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER scopes_insert_access AFTER INSERT ON scopes
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER scopes_update_access AFTER UPDATE ON scopes
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER scopes_delete_access AFTER DELETE ON scopes
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER apis_insert_access AFTER INSERT ON apis
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER apis_update_access AFTER UPDATE ON apis
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER apis_delete_access AFTER DELETE ON apis
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER api_resources_insert_access AFTER INSERT ON api_resources
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER api_resources_update_access AFTER UPDATE ON api_resources
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER api_resources_delete_access AFTER DELETE ON api_resources
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER subscriptions_insert_access AFTER INSERT ON subscriptions
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER subscriptions_update_access AFTER UPDATE ON subscriptions
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER subscriptions_delete_access AFTER DELETE ON subscriptions
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER tokens_update_access AFTER UPDATE ON tokens
WHEN NEW.revoked IS NOT OLD.revoked OR NEW.expires_at IS NOT OLD.expires_at OR NEW.scopes IS NOT OLD.scopes
    OR NEW.key_id IS NOT OLD.key_id OR NEW.user_id IS NOT OLD.user_id OR NEW.access_hash IS NOT OLD.access_hash
    OR NEW.grant_type IS NOT OLD.grant_type
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER tokens_delete_access AFTER DELETE ON tokens WHEN OLD.revoked = 0
BEGIN UPDATE access_generation SET n = n + 1; END;
