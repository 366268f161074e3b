-- Issue 16 item 3: token partitioning. The tokens of the users of a
-- partitioned user-store domain are kept in tokens_<name>, a copy of tokens
-- (columns, indexes, triggers) that serve makes when --token-partitioning
-- names it and removes, its rows moved back, when it no longer does.
-- token_partitions lists those tables (domain upper case).
CREATE TABLE token_partitions (
    domain TEXT NOT NULL PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE
);

-- The domain a token's strings name (oauth.PartitionOf), NULL for tokens
-- issued without partitioning, which keep their old form.
ALTER TABLE tokens ADD COLUMN partition TEXT;

-- A token issued without a marker, then moved to its domain's partition,
-- is found by its hash (access or refresh) here: only such tokens are, and
-- only until they are gone or moved back.
CREATE TABLE token_forwards (
    hash   BYTEA NOT NULL PRIMARY KEY,
    domain TEXT NOT NULL
);
