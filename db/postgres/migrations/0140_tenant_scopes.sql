-- Issue 16: scopes belong to a tenant. SQLite's 0140 says more.
ALTER TABLE scopes ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 1 REFERENCES tenants (id) ON DELETE CASCADE;
ALTER TABLE scopes DROP CONSTRAINT scopes_pkey;
ALTER TABLE scopes ADD PRIMARY KEY (tenant_id, name);
