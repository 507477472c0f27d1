#!/bin/sh
# Creates or upgrades Temporal's schemas in the temporal and
# temporal_visibility databases (the temporal-schema service). Safe to run on
# every start: setup-schema leaves an existing schema alone and update-schema
# applies only the versions the database lacks. The schema files are the
# ones embedded in temporal-sql-tool, so they match the image's version.
# Connection settings come from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and
# SQL_PASSWORD.
set -eu

for db in temporal visibility; do
	name=$db
	[ "$db" = visibility ] && name=temporal_visibility
	temporal-sql-tool --db "$name" setup-schema -v 0.0
	temporal-sql-tool --db "$name" update-schema --schema-name "postgresql/v12/$db"
done
