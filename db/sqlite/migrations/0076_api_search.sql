-- Tags of APIs, and the search index of the store's API list: the words
-- portal.SearchDocument makes of an API (already folded and split, one
-- space between words, so FTS5's ascii tokenizer splits them at the spaces
-- only and keeps every other character), and the key it sorts by name on
-- (a table of its own: an FTS5 table has no index on a column). The store
-- writes both with every change of an API; APIs made before this migration
-- are indexed when the store opens.

CREATE TABLE api_tags (
    api_id   INTEGER NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    tag      TEXT    NOT NULL, -- portal.NormalizeTag
    position INTEGER NOT NULL, -- the order the publisher gave
    PRIMARY KEY (api_id, tag)
) WITHOUT ROWID; -- so that the index by tag holds the API's id too
CREATE INDEX api_tags_tag ON api_tags (tag);

CREATE VIRTUAL TABLE api_search USING fts5 (
    words,
    tokenize = 'ascii',
    prefix = '1 2 3'
);

CREATE TABLE api_sort (
    api_id   INTEGER PRIMARY KEY REFERENCES apis (id) ON DELETE CASCADE,
    sort_key TEXT    NOT NULL -- portal.SortKey of the name and version
);
CREATE INDEX api_sort_key ON api_sort (sort_key);
CREATE INDEX apis_created ON apis (created_at);

CREATE TRIGGER api_search_delete AFTER DELETE ON apis BEGIN
    DELETE FROM api_search WHERE rowid = old.id;
END;
