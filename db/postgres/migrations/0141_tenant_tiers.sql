-- Issue 16: every tenant has its own throttling tiers. SQLite's 0141 says more.
CREATE TABLE tiers (
    tenant_id   BIGINT          NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    rpm         INTEGER         NOT NULL, -- requests per minute; 0: unlimited
    description TEXT COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, name)
);

CREATE TRIGGER tiers_lock_access BEFORE INSERT OR UPDATE OR DELETE ON tiers
    FOR EACH STATEMENT EXECUTE FUNCTION access_generation_lock();
CREATE TRIGGER tiers_insert_access AFTER INSERT ON tiers REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION access_generation_bump();
CREATE TRIGGER tiers_update_access AFTER UPDATE ON tiers REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION access_generation_bump();
CREATE TRIGGER tiers_delete_access AFTER DELETE ON tiers REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION access_generation_bump();
