-- Issue 16: each tenant has its own audit trail. SQLite's 0145 says more.

ALTER TABLE audit_events ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 1;
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);
