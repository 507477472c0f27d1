ALTER TABLE tasks ADD COLUMN timeout_seconds INTEGER;
--bun:split
ALTER TABLE tasks ADD COLUMN retry_policy {{.JSONType}};
