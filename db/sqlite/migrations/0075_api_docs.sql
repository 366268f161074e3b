-- Documentation pages of APIs, written by their publishers: Markdown
-- (rendered and sanitized when shown), or a link to documentation
-- elsewhere.

CREATE TABLE api_docs (
    id         INTEGER PRIMARY KEY,
    api_id     INTEGER NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('howto', 'faq', 'changelog', 'link')),
    title      TEXT    NOT NULL,
    markdown   TEXT    NOT NULL DEFAULT '', -- a page's source
    url        TEXT    NOT NULL DEFAULT '', -- a link's address
    updated_at INTEGER NOT NULL
);
CREATE INDEX api_docs_api ON api_docs (api_id);
