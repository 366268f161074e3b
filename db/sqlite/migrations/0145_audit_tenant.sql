-- Issue 16: each tenant has its own audit trail. An event belongs to the
-- tenant of the user it names, else of the application whose key it names,
-- else of whoever acted (RecordAudit works it out); the events recorded
-- before tenants are the super tenant's. No foreign key, as for the names:
-- the trail outlives what it names. The index serves a tenant's trail,
-- newest first.

ALTER TABLE audit_events ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);
