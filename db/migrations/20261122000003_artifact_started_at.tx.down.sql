ALTER TABLE artifacts DROP COLUMN started_at;
