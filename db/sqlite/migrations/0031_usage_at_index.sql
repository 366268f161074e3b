-- Every gateway call writes a usage row: each index on api_usage costs a
-- third of that write. Rows are appended in time order, so pruning by time
-- walks the rowid instead (see DeleteUsageBefore); per-application reads
-- keep api_usage_app.

DROP INDEX api_usage_at;
