CREATE TABLE job_logs (
    job_id      VARCHAR(26) NOT NULL,
    "offset"    BIGINT NOT NULL,
    stream      VARCHAR(8) NOT NULL,
    data        TEXT NOT NULL,
    created_at  {{.TimeType}} NOT NULL,
    PRIMARY KEY (job_id, "offset")
);
