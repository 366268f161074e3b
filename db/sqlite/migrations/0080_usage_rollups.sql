-- Usage rollups: sums of gateway calls per minute, hour and UTC day, which
-- the usage writer adds to in the transaction that stores each batch of
-- raw calls. The usage dashboards read these, never api_usage, so that a
-- month of calls answers as fast as an hour; each width has its own
-- retention, apart from the raw rows'. span is the width in seconds,
-- bucket its start in Unix seconds (a multiple of span).

-- The WSO2 fault code of a call the gateway refused (0: none).
ALTER TABLE api_usage ADD COLUMN fault INTEGER NOT NULL DEFAULT 0;

-- An application's rollups, for its developer's Usage page: each table's
-- key starts with the application, so that a page reads one range of it.

-- Calls by application, API, key type, status and fault, with their
-- latencies added up (microseconds).
CREATE TABLE usage_calls (
    app_id     INTEGER NOT NULL,
    span       INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    api_id     INTEGER NOT NULL,
    key_type   TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    fault      INTEGER NOT NULL,
    calls      INTEGER NOT NULL,
    latency_us INTEGER NOT NULL,
    PRIMARY KEY (app_id, span, bucket, api_id, key_type, status, fault)
) WITHOUT ROWID;

-- Calls by application and resource (method and URL template); errors are
-- those answered 400 or above.
CREATE TABLE usage_resources (
    app_id   INTEGER NOT NULL,
    span     INTEGER NOT NULL,
    bucket   INTEGER NOT NULL,
    api_id   INTEGER NOT NULL,
    method   TEXT    NOT NULL,
    resource TEXT    NOT NULL,
    calls    INTEGER NOT NULL,
    errors   INTEGER NOT NULL,
    PRIMARY KEY (app_id, span, bucket, api_id, method, resource)
) WITHOUT ROWID;

-- Calls by application, API and latency bin (portal.LatencyBin), from
-- which the percentiles are read.
CREATE TABLE usage_latency (
    app_id INTEGER NOT NULL,
    span   INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    api_id INTEGER NOT NULL,
    bin    INTEGER NOT NULL,
    calls  INTEGER NOT NULL,
    PRIMARY KEY (app_id, span, bucket, api_id, bin)
) WITHOUT ROWID;

-- An API's rollups, for the Publisher's and the administrators' pages, which
-- read many applications: the same sums without the application, keyed by
-- API, and the calls of each application to the API. The administrators'
-- pages read every API of a range of buckets through the second index,
-- which holds every column so that the table is not read.
CREATE TABLE usage_api_calls (
    api_id     INTEGER NOT NULL,
    span       INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    key_type   TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    fault      INTEGER NOT NULL,
    calls      INTEGER NOT NULL,
    latency_us INTEGER NOT NULL,
    PRIMARY KEY (api_id, span, bucket, key_type, status, fault)
) WITHOUT ROWID;
CREATE INDEX usage_api_calls_time ON usage_api_calls (span, bucket, api_id, key_type, status, fault, calls, latency_us);

CREATE TABLE usage_api_latency (
    api_id INTEGER NOT NULL,
    span   INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    bin    INTEGER NOT NULL,
    calls  INTEGER NOT NULL,
    PRIMARY KEY (api_id, span, bucket, bin)
) WITHOUT ROWID;
CREATE INDEX usage_api_latency_time ON usage_api_latency (span, bucket, bin, api_id, calls);

CREATE TABLE usage_api_apps (
    api_id INTEGER NOT NULL,
    span   INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    app_id INTEGER NOT NULL,
    calls  INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    PRIMARY KEY (api_id, span, bucket, app_id)
) WITHOUT ROWID;
CREATE INDEX usage_api_apps_time ON usage_api_apps (span, bucket, app_id, api_id, calls, errors);

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
INSERT INTO usage_api_calls (span, bucket, api_id, key_type, status, fault, calls, latency_us)
SELECT span, bucket, api_id, key_type, status, fault, sum(calls), sum(latency_us) FROM usage_calls GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO usage_api_apps (span, bucket, api_id, app_id, calls, errors)
SELECT span, bucket, api_id, app_id, sum(calls), sum(errors) FROM usage_resources GROUP BY 1, 2, 3, 4;
