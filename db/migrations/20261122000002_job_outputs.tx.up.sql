CREATE TABLE job_outputs (
    job_id      VARCHAR(26) PRIMARY KEY,
    data        {{.JSONType}} NOT NULL,
    created_at  {{.TimeType}} NOT NULL
);
