-- A user's approvals of applications at the consent page: the latest
-- decision per application, with the scopes it covered and whether the user
-- asked to be remembered (then a request for the same or fewer scopes skips
-- the page). The store's "Authorized applications" page lists these rows.
-- SQLite's 0021.

CREATE TABLE consents (
    user_id     BIGINT           NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id      BIGINT           NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    scopes      TEXT COLLATE "C" NOT NULL, -- space-separated
    remember    BOOLEAN          NOT NULL DEFAULT false,
    approved_at BIGINT           NOT NULL,
    PRIMARY KEY (user_id, app_id)
);
CREATE INDEX consents_app ON consents (app_id);
