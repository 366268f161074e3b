-- Usage rollups: sums of gateway calls per minute, hour and UTC day, which
-- the usage writer adds to in the transaction that stores each batch of
-- raw calls. The usage dashboards read these, never api_usage, so that a
-- month of calls answers as fast as an hour; each width has its own
-- retention, apart from the raw rows'. span is the width in seconds,
-- bucket its start in Unix seconds (a multiple of span).

-- The WSO2 fault code of a call the gateway refused (0: none).
ALTER TABLE api_usage ADD COLUMN fault INTEGER NOT NULL DEFAULT 0;

-- Calls by application, API, key type, status and fault, with their
-- latencies added up (microseconds).
CREATE TABLE usage_calls (
    span       INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    app_id     INTEGER NOT NULL,
    api_id     INTEGER NOT NULL,
    key_type   TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    fault      INTEGER NOT NULL,
    calls      INTEGER NOT NULL,
    latency_us INTEGER NOT NULL,
    PRIMARY KEY (span, bucket, app_id, api_id, key_type, status, fault)
) WITHOUT ROWID;
CREATE INDEX usage_calls_app ON usage_calls (app_id, span, bucket);
CREATE INDEX usage_calls_api ON usage_calls (api_id, span, bucket);

-- Calls by application and resource (method and URL template); errors are
-- those answered 400 or above.
CREATE TABLE usage_resources (
    span     INTEGER NOT NULL,
    bucket   INTEGER NOT NULL,
    app_id   INTEGER NOT NULL,
    api_id   INTEGER NOT NULL,
    method   TEXT    NOT NULL,
    resource TEXT    NOT NULL,
    calls    INTEGER NOT NULL,
    errors   INTEGER NOT NULL,
    PRIMARY KEY (span, bucket, app_id, api_id, method, resource)
) WITHOUT ROWID;
CREATE INDEX usage_resources_app ON usage_resources (app_id, span, bucket);
CREATE INDEX usage_resources_api ON usage_resources (api_id, span, bucket);

-- Calls by application, API and latency bin (portal.LatencyBin), from
-- which the percentiles are read.
CREATE TABLE usage_latency (
    span   INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    app_id INTEGER NOT NULL,
    api_id INTEGER NOT NULL,
    bin    INTEGER NOT NULL,
    calls  INTEGER NOT NULL,
    PRIMARY KEY (span, bucket, app_id, api_id, bin)
) WITHOUT ROWID;
CREATE INDEX usage_latency_app ON usage_latency (app_id, span, bucket);
CREATE INDEX usage_latency_api ON usage_latency (api_id, span, bucket);

-- The calls recorded before the rollups existed (their latencies have no
-- bins: the percentiles count from here on).
INSERT INTO usage_calls (span, bucket, app_id, api_id, key_type, status, fault, calls, latency_us)
SELECT s.span, at / 1000 / s.span * s.span, app_id, api_id, key_type, status, 0, count(*), sum(latency_us)
FROM api_usage, (SELECT 60 AS span UNION ALL SELECT 3600 UNION ALL SELECT 86400) AS s
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO usage_resources (span, bucket, app_id, api_id, method, resource, calls, errors)
SELECT s.span, at / 1000 / s.span * s.span, app_id, api_id, method, resource, count(*), sum(status >= 400)
FROM api_usage, (SELECT 60 AS span UNION ALL SELECT 3600 UNION ALL SELECT 86400) AS s
GROUP BY 1, 2, 3, 4, 5, 6;
