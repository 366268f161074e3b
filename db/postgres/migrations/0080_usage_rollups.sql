-- Usage rollups: sums of gateway calls per minute, hour and UTC day, which
-- the usage writer adds to in the transaction that stores each batch of
-- raw calls. SQLite's 0080 says more.

ALTER TABLE api_usage ADD COLUMN fault INTEGER NOT NULL DEFAULT 0;

CREATE TABLE usage_calls (
    span       INTEGER          NOT NULL,
    bucket     BIGINT           NOT NULL,
    app_id     BIGINT           NOT NULL,
    api_id     BIGINT           NOT NULL,
    key_type   TEXT COLLATE "C" NOT NULL,
    status     INTEGER          NOT NULL,
    fault      INTEGER          NOT NULL,
    calls      BIGINT           NOT NULL,
    latency_us BIGINT           NOT NULL,
    PRIMARY KEY (span, bucket, app_id, api_id, key_type, status, fault)
);
CREATE INDEX usage_calls_app ON usage_calls (app_id, span, bucket);
CREATE INDEX usage_calls_api ON usage_calls (api_id, span, bucket);

CREATE TABLE usage_resources (
    span     INTEGER          NOT NULL,
    bucket   BIGINT           NOT NULL,
    app_id   BIGINT           NOT NULL,
    api_id   BIGINT           NOT NULL,
    method   TEXT COLLATE "C" NOT NULL,
    resource TEXT COLLATE "C" NOT NULL,
    calls    BIGINT           NOT NULL,
    errors   BIGINT           NOT NULL,
    PRIMARY KEY (span, bucket, app_id, api_id, method, resource)
);
CREATE INDEX usage_resources_app ON usage_resources (app_id, span, bucket);
CREATE INDEX usage_resources_api ON usage_resources (api_id, span, bucket);

CREATE TABLE usage_latency (
    span   INTEGER NOT NULL,
    bucket BIGINT  NOT NULL,
    app_id BIGINT  NOT NULL,
    api_id BIGINT  NOT NULL,
    bin    INTEGER NOT NULL,
    calls  BIGINT  NOT NULL,
    PRIMARY KEY (span, bucket, app_id, api_id, bin)
);
CREATE INDEX usage_latency_app ON usage_latency (app_id, span, bucket);
CREATE INDEX usage_latency_api ON usage_latency (api_id, span, bucket);

INSERT INTO usage_calls (span, bucket, app_id, api_id, key_type, status, fault, calls, latency_us)
SELECT s.span, at / 1000 / s.span * s.span, app_id, api_id, key_type, status, 0, count(*), sum(latency_us)
FROM api_usage, (VALUES (60), (3600), (86400)) AS s (span)
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO usage_resources (span, bucket, app_id, api_id, method, resource, calls, errors)
SELECT s.span, at / 1000 / s.span * s.span, app_id, api_id, method, resource, count(*), count(*) FILTER (WHERE status >= 400)
FROM api_usage, (VALUES (60), (3600), (86400)) AS s (span)
GROUP BY 1, 2, 3, 4, 5, 6;
