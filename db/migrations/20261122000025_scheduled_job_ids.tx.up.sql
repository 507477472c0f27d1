-- Jobs started by a schedule are named <schedule ULID>-<RFC 3339 time> by
-- Temporal. SQLite does not enforce VARCHAR lengths.
{{if .Postgres}}ALTER TABLE artifacts ALTER COLUMN job_id TYPE VARCHAR(64){{else}}SELECT 1{{end}};
--bun:split
{{if .Postgres}}ALTER TABLE job_outputs ALTER COLUMN job_id TYPE VARCHAR(64){{else}}SELECT 1{{end}};
--bun:split
{{if .Postgres}}ALTER TABLE job_logs ALTER COLUMN job_id TYPE VARCHAR(64){{else}}SELECT 1{{end}};
