-- Issue 14: every API has an OpenAPI definition and CORS settings at the
-- gateway.
--
-- definition is the OpenAPI 3 document an API was imported from (JSON),
-- empty for an API made on the Publisher page: the store generates one
-- from the resources, and keeps an imported one in step with them.
--
-- cors_origins, cors_headers and cors_methods are the API's CORS settings
-- (space-separated; empty: the defaults, the store's own origin, the
-- usual request headers and the API's methods). The gateway reads them,
-- so changing them starts a new access generation, which the triggers of
-- 0023 do for every update of apis.

ALTER TABLE apis ADD COLUMN definition TEXT NOT NULL DEFAULT '';
ALTER TABLE apis ADD COLUMN cors_origins TEXT NOT NULL DEFAULT '';
ALTER TABLE apis ADD COLUMN cors_headers TEXT NOT NULL DEFAULT '';
ALTER TABLE apis ADD COLUMN cors_methods TEXT NOT NULL DEFAULT '';
