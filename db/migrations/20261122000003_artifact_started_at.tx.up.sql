ALTER TABLE artifacts ADD COLUMN started_at {{.TimeType}};
