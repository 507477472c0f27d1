-- Runs once, when the postgres service initialises an empty volume.
-- Temporal and chaptask get their own roles and databases, so neither can
-- touch the other's tables and each can be backed up or moved on its own.
-- The passwords are for a local stack; change them (and the compose file)
-- anywhere else.
CREATE ROLE temporal LOGIN PASSWORD 'temporal';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

CREATE ROLE chaptask LOGIN PASSWORD 'chaptask';
CREATE DATABASE chaptask OWNER chaptask;
