-- Autovacuum settings for Temporal's visibility table (the
-- temporal-visibility-tuning service runs this after the schema is set up;
-- chaptask-bench -production runs it too). Run it as the table's owner in the
-- visibility database; it is safe to run again.
--
-- A job's visibility row is written when it starts and rewritten when it
-- closes, which leaves the started version behind as a dead index entry in
-- front of every job-list page: a page is an ordered index walk that puts
-- open workflows first, and it steps over every such entry until a vacuum
-- removes it. By default autovacuum waits for dead rows to reach 20 % of the
-- table, so that walk grows with the history: measured on PostgreSQL 15 with
-- 100,000 jobs, 6.2 ms per page with their dead entries against 0.07 ms after
-- a vacuum. Vacuuming after 1 % of the table (at least 1,000 rows), with the
-- index cleanup PostgreSQL may otherwise skip when few pages changed, keeps
-- the walk short; each vacuum scans the table's indexes, which is why the
-- threshold still grows slowly with the table.
ALTER TABLE executions_visibility SET (
	autovacuum_vacuum_scale_factor = 0.01,
	autovacuum_vacuum_threshold = 1000,
	vacuum_index_cleanup = on
);
