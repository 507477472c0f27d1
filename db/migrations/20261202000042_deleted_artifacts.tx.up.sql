-- What is left of an execution artifact deleted through the API or by the
-- retention policy: enough for its job's record to say so.
CREATE TABLE deleted_artifacts (
    id          VARCHAR(26) PRIMARY KEY,
    job_id      VARCHAR(64) NOT NULL,
    run_id      VARCHAR(64),
    started_at  {{.TimeType}},
    deleted_at  {{.TimeType}} NOT NULL
);
--bun:split
CREATE INDEX deleted_artifacts_job_id_idx ON deleted_artifacts (job_id, deleted_at);
--bun:split
-- Finds the logs of jobs that began before a retention cutoff: one entry
-- per job, so the live-output writes stay cheap.
CREATE INDEX job_logs_started_idx ON job_logs (created_at) WHERE "offset" = 0;
