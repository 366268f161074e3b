-- Every gateway call writes a usage row: each index on api_usage costs a
-- share of that write. Rows are appended in time order with growing ids, so
-- pruning by time walks the primary key instead (see DeleteUsageBefore), as
-- SQLite's walks the rowid; per-application reads keep api_usage_app.
-- SQLite's 0031, the same step.

DROP INDEX api_usage_at;
