ALTER TABLE artifacts ADD COLUMN run_id VARCHAR(64);
--bun:split
DROP INDEX artifacts_job_id_idx;
--bun:split
CREATE UNIQUE INDEX artifacts_job_run_idx ON artifacts (job_id, run_id);
--bun:split
CREATE INDEX artifacts_job_id_idx ON artifacts (job_id, created_at DESC);
