-- Issue 16 item 1: tenants, as WSO2 API Manager has them. The super
-- tenant, carbon.super (id 1), holds everything that existed before; a
-- tenant is a row here and a tenant_id on the rows that belong to it, with
-- indexes leading with it: no schema or table per tenant, so thousands
-- stay cheap.
--
-- users.username is the name a user logs in with, without the super
-- tenant's suffix: alice (carbon.super's), CORP/bob, john@example.org (a
-- super-tenant e-mail username), alice@acme.com (acme.com's). It stays
-- unique across tenants, so a lookup by name needs no tenant.
--
-- A tenant's APIs have contexts beginning /t/{domain}/, as WSO2 stores
-- them, so (context, version) stays unique and the gateway's routes need
-- no tenant. apis.shared: the API is visible to other tenants' developers.
--
-- A deactivated tenant's users cannot log in and its tokens and keys are
-- refused: the lookups join tenants, whose changes bump the access
-- generation.

CREATE TABLE tenants (
    id             INTEGER PRIMARY KEY,
    domain         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL
);
INSERT INTO tenants (id, domain, active, created_at) VALUES (1, 'carbon.super', 1, 0);

ALTER TABLE users ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX users_tenant ON users (tenant_id, username COLLATE NOCASE);
ALTER TABLE apis ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE apis ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
CREATE INDEX apis_tenant ON apis (tenant_id, shared);
CREATE INDEX apis_shared ON apis (shared, tenant_id);

CREATE TRIGGER tenants_insert_access AFTER INSERT ON tenants
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER tenants_update_access AFTER UPDATE ON tenants
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER tenants_delete_access AFTER DELETE ON tenants
BEGIN UPDATE access_generation SET n = n + 1; END;
