DROP TABLE artifacts;
--bun:split
DROP TABLE tasks;
