-- The nodes that write tokens by the database's token partitioning (package
-- postgres, partition.go). A node adds its row once it has read the
-- partitioning while holding the partitioning's lock shared; a node about
-- to change the partitioning, holding that lock exclusive, deletes every
-- other node's row first. Each token write of a node first calls
-- token_partitioning_held in its own transaction: it takes the write guard
-- (an advisory lock, shared until the transaction ends, which the changing
-- node takes exclusive after deleting the rows, so waiting for the writes
-- under way) and fails with SQLSTATE AS001 when the node's row is gone. So
-- a node that lost its hold on the lock, and has not yet noticed, writes no
-- token by a partitioning that has since changed.

CREATE TABLE partition_nodes (
    node  TEXT COLLATE "C" PRIMARY KEY,
    since BIGINT NOT NULL -- when the node joined, unix milliseconds
);

CREATE FUNCTION token_partitioning_held(n TEXT, guard BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(guard);
    IF NOT EXISTS (SELECT 1 FROM partition_nodes WHERE node = n) THEN
        RAISE EXCEPTION 'the token partitioning may have changed since this node read it' USING ERRCODE = 'AS001';
    END IF;
END
$$;
