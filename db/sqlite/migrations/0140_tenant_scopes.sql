-- Issue 16: scopes belong to a tenant. The same name may be registered in
-- two tenants, each with its own description and roles; a token request
-- resolves the scopes it names in its client's tenant only. Every scope
-- that exists belongs to the super tenant (id 1).
CREATE TABLE scopes_new (
    tenant_id   INTEGER NOT NULL DEFAULT 1 REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    roles       TEXT    NOT NULL DEFAULT '', -- space-separated; empty: anyone of the tenant
    PRIMARY KEY (tenant_id, name)
) WITHOUT ROWID;
INSERT INTO scopes_new (tenant_id, name, description, roles) SELECT 1, name, description, roles FROM scopes;
DROP TABLE scopes;
ALTER TABLE scopes_new RENAME TO scopes;

CREATE TRIGGER scopes_insert_access AFTER INSERT ON scopes
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER scopes_update_access AFTER UPDATE ON scopes
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER scopes_delete_access AFTER DELETE ON scopes
BEGIN UPDATE access_generation SET n = n + 1; END;
