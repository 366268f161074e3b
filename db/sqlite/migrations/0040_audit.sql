-- Security events (failed log-ins and client authentications, key and secret
-- generation, revocations, consents) for administrators. Names are kept as
-- text, not foreign keys: a failed log-in may name no user, and the trail
-- outlives deleted users and applications. Nothing secret is ever stored.

CREATE TABLE audit_events (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL, -- Unix milliseconds
    event    TEXT    NOT NULL,
    username TEXT    NOT NULL DEFAULT '',
    client   TEXT    NOT NULL DEFAULT '', -- consumer key or application name
    remote   TEXT    NOT NULL DEFAULT '', -- client address
    detail   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
