-- PostgreSQL's record of the nodes that write tokens by the database's
-- token partitioning, for the nodes of a cluster sharing one database
-- (db/postgres/migrations). A database of SQLite serves one process:
-- nothing to record.

SELECT 1;
