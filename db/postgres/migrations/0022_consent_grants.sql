-- A consent's scopes become everything the user has granted the application
-- since first approving it, since its tokens (and their refresh chains) may
-- still carry any of them: the Authorized applications page must not show
-- less. What the consent page may skip is kept apart: the scopes of the
-- latest approval the user asked to have remembered. SQLite's 0022.

ALTER TABLE consents ADD COLUMN remembered_scopes TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE consents SET remembered_scopes = scopes WHERE remember;
