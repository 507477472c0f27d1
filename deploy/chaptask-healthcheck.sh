#!/bin/sh
# Health check of a chaptask container (the image's HEALTHCHECK).
# Roles all and api answer GET /health, which checks the database and
# Temporal. A worker serves no HTTP, so it counts as healthy while it holds
# a TCP connection to the Temporal frontend, over which it long-polls for work.
set -eu

case "${CHAPTASK_ROLE:-all}" in
worker)
	addr=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
	port=$(printf '%04X' "${addr##*:}")
	# In /proc/net/tcp{,6} field 3 is the remote address, field 4 the state;
	# 01 is ESTABLISHED.
	tables=
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] && tables="$tables $f"
	done
	# shellcheck disable=SC2086 # the list is split on purpose
	awk -v port=":$port" '$3 ~ port "$" && $4 == "01" { ok = 1 } END { exit !ok }' $tables
	;;
*)
	addr=${CHAPTASK_HTTP_ADDR:-127.0.0.1:8000}
	exec curl -fsS -o /dev/null --max-time 4 "http://127.0.0.1:${addr##*:}/health"
	;;
esac
