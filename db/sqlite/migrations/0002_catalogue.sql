-- The API catalogue: published APIs, their resources, and applications'
-- subscriptions to them. Settings hold one-off markers such as the sample
-- API having been seeded.

CREATE TABLE apis (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    version        TEXT    NOT NULL,
    context        TEXT    NOT NULL, -- e.g. /pizzashack
    description    TEXT    NOT NULL DEFAULT '',
    production_url TEXT    NOT NULL DEFAULT '',
    sandbox_url    TEXT    NOT NULL DEFAULT '',
    tiers          TEXT    NOT NULL DEFAULT 'Unlimited Gold Silver Bronze', -- space-separated
    status         TEXT    NOT NULL DEFAULT 'PUBLISHED' CHECK (status IN ('PUBLISHED', 'RETIRED')),
    created_at     INTEGER NOT NULL,
    UNIQUE (context, version)
);

CREATE TABLE api_resources (
    id     INTEGER PRIMARY KEY,
    api_id INTEGER NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    method TEXT    NOT NULL, -- GET, POST, …
    path   TEXT    NOT NULL, -- URL template, e.g. /order/{orderId}
    scope  TEXT    NOT NULL DEFAULT '', -- empty: any valid token
    UNIQUE (api_id, method, path)
);

CREATE TABLE subscriptions (
    id         INTEGER PRIMARY KEY,
    app_id     INTEGER NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    api_id     INTEGER NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    tier       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (app_id, api_id)
);
CREATE INDEX subscriptions_api ON subscriptions (api_id);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
