-- Issue 17 part 2 (DPoP): an application may require DPoP, and its keys
-- then get tokens only with a DPoP proof. The token endpoint reads it
-- through the consumer key cache, which the access generation triggers of
-- 0023 on applications keep fresh.

ALTER TABLE applications ADD COLUMN dpop_required INTEGER NOT NULL DEFAULT 0;
