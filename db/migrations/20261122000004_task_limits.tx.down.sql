ALTER TABLE tasks DROP COLUMN retry_policy;
--bun:split
ALTER TABLE tasks DROP COLUMN timeout_seconds;
