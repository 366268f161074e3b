-- Issue 17 item 1: the answer to a refresh, kept for the grace period
-- (serve's --refresh-grace) so that the same client presenting the refresh
-- token again, after a lost response or from a concurrent refresh, gets it
-- again instead of a replay's revocation. refresh_hash is the SHA-256 of
-- the refresh token that was used (tokens.refresh_hash); sealed is the
-- answer, AES-256-GCM under a key derived (HKDF) from that refresh token,
-- which only its holder has: the row alone gives no token. keep_until
-- (Unix milliseconds) ends the grace period; the cleanup job deletes the
-- row then. Written in the transaction that marks the refresh token used.

CREATE TABLE refresh_answers (
	refresh_hash BLOB PRIMARY KEY,
	sealed BLOB NOT NULL,
	keep_until INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX refresh_answers_keep_until ON refresh_answers (keep_until);
