-- Issue 17 part 2 (DPoP, RFC 9449 §10): the thumbprint an authorization
-- request's dpop_jkt bound its code to; the code is then redeemed only with
-- a DPoP proof signed by that key. NULL for a code not bound.

ALTER TABLE codes ADD COLUMN dpop_jkt TEXT COLLATE "C";
