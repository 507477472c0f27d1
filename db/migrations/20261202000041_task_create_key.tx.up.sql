-- The Idempotency-Key of the POST /api/v1/tasks that created a task, and a
-- digest of that request's body: stored with the task in the same INSERT,
-- so a retried create finds the task its first attempt made.
ALTER TABLE tasks ADD COLUMN create_key VARCHAR(255);
--bun:split
ALTER TABLE tasks ADD COLUMN create_request_sha256 VARCHAR(64);
--bun:split
CREATE UNIQUE INDEX tasks_create_key_idx ON tasks (create_key);
