-- Tags of APIs, and the search index of the store's API list. SQLite's
-- 0076 in PostgreSQL's dialect: the words portal.SearchDocument makes of
-- an API are stored as they are (array_to_tsvector: no parser, no
-- dictionary), so that both stores match the same words, and a GIN index
-- answers the prefix queries. APIs made before this migration are indexed
-- when the store opens.

CREATE TABLE api_tags (
    api_id   BIGINT           NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    tag      TEXT COLLATE "C" NOT NULL, -- portal.NormalizeTag
    position INTEGER          NOT NULL, -- the order the publisher gave
    PRIMARY KEY (api_id, tag)
);
CREATE INDEX api_tags_tag ON api_tags (tag, api_id); -- covers the tag filters

CREATE TABLE api_search (
    api_id   BIGINT           PRIMARY KEY REFERENCES apis (id) ON DELETE CASCADE,
    words    TSVECTOR         NOT NULL,
    sort_key TEXT COLLATE "C" NOT NULL -- portal.SortKey of the name and version
);
CREATE INDEX api_search_words ON api_search USING GIN (words);
CREATE INDEX api_search_sort ON api_search (sort_key, api_id);
CREATE INDEX apis_created ON apis (created_at);
