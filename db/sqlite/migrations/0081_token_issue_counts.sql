-- Tokens issued per grant type, per minute, hour and UTC day, added to by a
-- trigger in the transaction that stores each token: token cleanup deletes
-- expired tokens, and with them the history the administrators' Usage page
-- shows. Kept as long as the usage rollups of the same width
-- (DeleteRollupsBefore). span is the width in seconds, bucket its start in
-- Unix seconds (a multiple of span).
CREATE TABLE token_issue_counts (
    span       INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    grant_type TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (span, bucket, grant_type)
) WITHOUT ROWID;

CREATE TRIGGER tokens_issue_count AFTER INSERT ON tokens BEGIN
    INSERT INTO token_issue_counts (span, bucket, grant_type, n)
    SELECT s.span, NEW.issued_at / 1000 / s.span * s.span, NEW.grant_type, 1
    FROM (SELECT 60 AS span UNION ALL SELECT 3600 UNION ALL SELECT 86400) AS s WHERE true
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- The tokens issued before, of those still kept.
INSERT INTO token_issue_counts (span, bucket, grant_type, n)
SELECT s.span, issued_at / 1000 / s.span * s.span, grant_type, count(*)
FROM tokens, (SELECT 60 AS span UNION ALL SELECT 3600 UNION ALL SELECT 86400) AS s
GROUP BY 1, 2, 3;
