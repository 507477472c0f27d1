DROP INDEX artifacts_job_id_idx;
--bun:split
DROP INDEX artifacts_job_run_idx;
--bun:split
ALTER TABLE artifacts DROP COLUMN run_id;
--bun:split
CREATE UNIQUE INDEX artifacts_job_id_idx ON artifacts (job_id);
