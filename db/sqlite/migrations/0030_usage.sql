-- Gateway calls, one row each, for the usage page. Written in batches by the
-- gateway; the API's name and version are copied so that a row stays
-- readable after its API or application is deleted.

CREATE TABLE api_usage (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL, -- Unix milliseconds
    app_id      INTEGER NOT NULL, -- no foreign key: usage outlives applications
    api_id      INTEGER NOT NULL,
    api_name    TEXT    NOT NULL,
    api_version TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    resource    TEXT    NOT NULL, -- the matched URL template, e.g. /order/{orderId}; empty: none matched
    key_type    TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    latency_us  INTEGER NOT NULL  -- microseconds, as seen by the gateway
);
CREATE INDEX api_usage_at ON api_usage (at);
CREATE INDEX api_usage_app ON api_usage (app_id, at);
