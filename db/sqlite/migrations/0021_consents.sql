-- A user's approvals of applications at the consent page: the latest
-- decision per application, with the scopes it covered and whether the user
-- asked to be remembered (then a request for the same or fewer scopes skips
-- the page). The store's "Authorized applications" page lists these rows.

CREATE TABLE consents (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id      INTEGER NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    scopes      TEXT    NOT NULL, -- space-separated
    remember    INTEGER NOT NULL DEFAULT 0,
    approved_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, app_id)
) WITHOUT ROWID;
CREATE INDEX consents_app ON consents (app_id);
