-- Usage rollups: sums of gateway calls per minute, hour and UTC day, which
-- the usage writer adds to in the transaction that stores each batch of
-- raw calls. SQLite's 0080 says more.

ALTER TABLE api_usage ADD COLUMN fault INTEGER NOT NULL DEFAULT 0;

-- An application's rollups, keyed by the application first.
CREATE TABLE usage_calls (
    app_id     BIGINT           NOT NULL,
    span       INTEGER          NOT NULL,
    bucket     BIGINT           NOT NULL,
    api_id     BIGINT           NOT NULL,
    key_type   TEXT COLLATE "C" NOT NULL,
    status     INTEGER          NOT NULL,
    fault      INTEGER          NOT NULL,
    calls      BIGINT           NOT NULL,
    latency_us BIGINT           NOT NULL,
    PRIMARY KEY (app_id, span, bucket, api_id, key_type, status, fault)
);

CREATE TABLE usage_resources (
    app_id   BIGINT           NOT NULL,
    span     INTEGER          NOT NULL,
    bucket   BIGINT           NOT NULL,
    api_id   BIGINT           NOT NULL,
    method   TEXT COLLATE "C" NOT NULL,
    resource TEXT COLLATE "C" NOT NULL,
    calls    BIGINT           NOT NULL,
    errors   BIGINT           NOT NULL,
    PRIMARY KEY (app_id, span, bucket, api_id, method, resource)
);

CREATE TABLE usage_latency (
    app_id BIGINT  NOT NULL,
    span   INTEGER NOT NULL,
    bucket BIGINT  NOT NULL,
    api_id BIGINT  NOT NULL,
    bin    INTEGER NOT NULL,
    calls  BIGINT  NOT NULL,
    PRIMARY KEY (app_id, span, bucket, api_id, bin)
);

-- An API's rollups, keyed by the API first; the administrators' pages read
-- every API of a range of buckets through the second index.
CREATE TABLE usage_api_calls (
    api_id     BIGINT           NOT NULL,
    span       INTEGER          NOT NULL,
    bucket     BIGINT           NOT NULL,
    key_type   TEXT COLLATE "C" NOT NULL,
    status     INTEGER          NOT NULL,
    fault      INTEGER          NOT NULL,
    calls      BIGINT           NOT NULL,
    latency_us BIGINT           NOT NULL,
    PRIMARY KEY (api_id, span, bucket, key_type, status, fault)
);
CREATE INDEX usage_api_calls_time ON usage_api_calls (span, bucket) INCLUDE (api_id, key_type, status, fault, calls, latency_us);

CREATE TABLE usage_api_latency (
    api_id BIGINT  NOT NULL,
    span   INTEGER NOT NULL,
    bucket BIGINT  NOT NULL,
    bin    INTEGER NOT NULL,
    calls  BIGINT  NOT NULL,
    PRIMARY KEY (api_id, span, bucket, bin)
);
CREATE INDEX usage_api_latency_time ON usage_api_latency (span, bucket) INCLUDE (bin, api_id, calls);

CREATE TABLE usage_api_apps (
    api_id BIGINT  NOT NULL,
    span   INTEGER NOT NULL,
    bucket BIGINT  NOT NULL,
    app_id BIGINT  NOT NULL,
    calls  BIGINT  NOT NULL,
    errors BIGINT  NOT NULL,
    PRIMARY KEY (api_id, span, bucket, app_id)
);
CREATE INDEX usage_api_apps_time ON usage_api_apps (span, bucket) INCLUDE (app_id, api_id, calls, errors);

INSERT INTO usage_calls (span, bucket, app_id, api_id, key_type, status, fault, calls, latency_us)
SELECT s.span, at / 1000 / s.span * s.span, app_id, api_id, key_type, status, 0, count(*), sum(latency_us)
FROM api_usage, (VALUES (60), (3600), (86400)) AS s (span)
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO usage_resources (span, bucket, app_id, api_id, method, resource, calls, errors)
SELECT s.span, at / 1000 / s.span * s.span, app_id, api_id, method, resource, count(*), count(*) FILTER (WHERE status >= 400)
FROM api_usage, (VALUES (60), (3600), (86400)) AS s (span)
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO usage_api_calls (span, bucket, api_id, key_type, status, fault, calls, latency_us)
SELECT span, bucket, api_id, key_type, status, fault, sum(calls), sum(latency_us) FROM usage_calls GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO usage_api_apps (span, bucket, api_id, app_id, calls, errors)
SELECT span, bucket, api_id, app_id, sum(calls), sum(errors) FROM usage_resources GROUP BY 1, 2, 3, 4;
