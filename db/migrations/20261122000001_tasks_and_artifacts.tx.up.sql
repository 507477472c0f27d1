CREATE TABLE tasks (
    id          VARCHAR(26) PRIMARY KEY,
    command     TEXT NOT NULL,
    task_type   VARCHAR(32) NOT NULL,
    parameters  {{.JSONType}},
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  {{.TimeType}} NOT NULL,
    updated_at  {{.TimeType}} NOT NULL
);
--bun:split
CREATE INDEX tasks_created_at_idx ON tasks (created_at DESC, id DESC);
--bun:split
CREATE TABLE artifacts (
    id          VARCHAR(26) PRIMARY KEY,
    parent_id   VARCHAR(26) REFERENCES artifacts (id) ON DELETE CASCADE,
    level       INTEGER NOT NULL DEFAULT 0,
    data        {{.JSONType}} NOT NULL,
    job_id      VARCHAR(26),
    task_id     VARCHAR(26),
    created_at  {{.TimeType}} NOT NULL,
    updated_at  {{.TimeType}} NOT NULL
);
--bun:split
CREATE UNIQUE INDEX artifacts_job_id_idx ON artifacts (job_id);
--bun:split
CREATE INDEX artifacts_task_id_idx ON artifacts (task_id, created_at DESC);
--bun:split
CREATE INDEX artifacts_parent_id_idx ON artifacts (parent_id);
--bun:split
CREATE INDEX artifacts_created_at_idx ON artifacts (created_at DESC, id DESC);
