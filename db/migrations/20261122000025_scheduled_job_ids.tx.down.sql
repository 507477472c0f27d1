{{if .Postgres}}ALTER TABLE job_logs ALTER COLUMN job_id TYPE VARCHAR(26){{else}}SELECT 1{{end}};
--bun:split
{{if .Postgres}}ALTER TABLE job_outputs ALTER COLUMN job_id TYPE VARCHAR(26){{else}}SELECT 1{{end}};
--bun:split
{{if .Postgres}}ALTER TABLE artifacts ALTER COLUMN job_id TYPE VARCHAR(26){{else}}SELECT 1{{end}};
