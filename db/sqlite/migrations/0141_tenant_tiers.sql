-- Issue 16: every tenant has its own throttling tiers. A tenant's tiers are
-- the default ones (Unlimited, Gold, Silver, Bronze, whose limits the
-- gateway's --tier-… flags set) with its rows here laid over them: a row
-- named as a default tier sets that tier's limit for the tenant only, any
-- other adds a tier (Platinum). So the super tenant and every new tenant
-- start with the default tiers, as before.
CREATE TABLE tiers (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    rpm         INTEGER NOT NULL, -- requests per minute; 0: unlimited
    description TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, name)
) WITHOUT ROWID;

-- A tier's limit is part of what the gateway caches per subscription.
CREATE TRIGGER tiers_insert_access AFTER INSERT ON tiers
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER tiers_update_access AFTER UPDATE ON tiers
BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER tiers_delete_access AFTER DELETE ON tiers
BEGIN UPDATE access_generation SET n = n + 1; END;
