-- Issue 17 part 4: whether the gateway sends an API's backend a signed JWT
-- about the caller (X-JWT-Assertion: subscriber, application, key type,
-- tier, end user, roles), as WSO2 API Manager does. The gateway reads it,
-- so changing it starts a new access generation, which the triggers of
-- 0023 do for every update of apis.

ALTER TABLE apis ADD COLUMN backend_jwt BOOLEAN NOT NULL DEFAULT false;
