-- Tokens issued per grant type, per minute, hour and UTC day, added to by a
-- trigger in the transaction that stores each token: token cleanup deletes
-- expired tokens, and with them the history the administrators' Usage page
-- shows. Kept as long as the usage rollups of the same width
-- (DeleteRollupsBefore). span is the width in seconds, bucket its start in
-- Unix seconds (a multiple of span).
CREATE TABLE token_issue_counts (
    span       BIGINT NOT NULL,
    bucket     BIGINT NOT NULL,
    grant_type TEXT COLLATE "C" NOT NULL,
    -- The server process's counter of the bucket (its pid modulo 32): a
    -- row updated by every transaction that issues a token would hold each
    -- one until the previous commits, a third of the throughput of
    -- client_credentials. A connection runs one transaction at a time, so
    -- its own row is seldom locked by another; the reads add them up.
    shard      SMALLINT NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (span, bucket, grant_type, shard)
);

-- One statement's tokens are added up first, and the rows upserted in key
-- order, so that two transactions storing several tokens take the rows'
-- locks in the same order.
CREATE FUNCTION tokens_issue_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO token_issue_counts (span, bucket, grant_type, shard, n)
    SELECT s.span, t.issued_at / 1000 / s.span * s.span, t.grant_type, pg_backend_pid() % 32, count(*)
    FROM new_tokens t, (VALUES (60::bigint), (3600), (86400)) AS s (span)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (span, bucket, grant_type, shard) DO UPDATE SET n = token_issue_counts.n + excluded.n;
    RETURN NULL;
END $$;
CREATE TRIGGER tokens_issue_count AFTER INSERT ON tokens REFERENCING NEW TABLE AS new_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION tokens_issue_count();

-- The tokens issued before, of those still kept.
INSERT INTO token_issue_counts (span, bucket, grant_type, shard, n)
SELECT s.span, issued_at / 1000 / s.span * s.span, grant_type, 0, count(*)
FROM tokens, (VALUES (60::bigint), (3600), (86400)) AS s (span)
GROUP BY 1, 2, 3;
