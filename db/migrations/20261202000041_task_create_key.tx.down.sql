DROP INDEX tasks_create_key_idx;
--bun:split
ALTER TABLE tasks DROP COLUMN create_request_sha256;
--bun:split
ALTER TABLE tasks DROP COLUMN create_key;
