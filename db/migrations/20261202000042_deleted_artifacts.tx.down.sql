DROP INDEX job_logs_started_idx;
--bun:split
DROP TABLE deleted_artifacts;
