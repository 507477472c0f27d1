#!/usr/bin/env bash
# Runs chaptask distributed on one machine and kills a worker mid-run:
#
#   a Temporal server (built from the go.temporal.io/server module in go.mod)
#   on PostgreSQL, one chaptask API process and two chaptask workers, all
#   separate processes on 127.0.0.1;
#   a shell task run as JOBS jobs; once jobs are running, worker 1 gets
#   SIGKILL. Its runs time out (10 s heartbeat timeout) and Temporal retries
#   them on worker 2.
#
# It then checks that every job completed with exactly one artifact, prints
# a summary and exits non-zero on any failure. Everything it starts and
# every database it creates is removed on exit.
#
# Needs: Go, PostgreSQL on PGHOST:PGPORT reachable as PGUSER without a
# password (psql), curl and jq. Binaries are cached in CHAPTASK_DIST_CACHE
# (default ~/.cache/chaptask-dist); the first run compiles the Temporal
# server. Ports 16933-16939, 17233-17243 and 18000 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-20}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER
DB_PREFIX=chaptask_dist
FRONTEND=127.0.0.1:17233
API=http://127.0.0.1:18000
CACHE=${CHAPTASK_DIST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaptask-dist}

log() { printf '%s distributed: %s\n' "$(date +%T)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

for tool in go psql curl jq; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
psql -d postgres -Atqc 'SELECT 1' >/dev/null || fail "cannot reach PostgreSQL at $PGHOST:$PGPORT as $PGUSER"
for port in 16933 16934 16935 16939 17233 17234 17235 17239 17243 18000; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		fail "port $port is in use"
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chaptask-dist.XXXXXX")
pids=()
cleanup() {
	local status=$?
	set +e
	# SIGTERM lets chaptask and Temporal shut down cleanly; whatever is still
	# up 20 s later gets SIGKILL.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for db in temporal visibility app; do
		psql -q -d postgres -c "DROP DATABASE IF EXISTS ${DB_PREFIX}_$db WITH (FORCE)" >/dev/null 2>&1
	done
	if [ "$status" -ne 0 ]; then
		for f in "$WORK"/*.log; do
			[ -f "$f" ] || continue
			echo "---- last lines of $(basename "$f")" >&2
			tail -n 25 "$f" >&2
		done
		log "failed (exit $status); logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$EPOCHREALTIME
elapsed() { awk -v now="$EPOCHREALTIME" -v start="$started" 'BEGIN { printf "%.1f", now - start }'; }

# ---- binaries
# The Temporal server's commands need modules chaptask does not (its CLI
# framework). They are built in a scratch module that copies go.mod and
# go.sum, so the repository's own files never change and every shared
# dependency keeps chaptask's version (and its compiled packages).
server_version=$(go list -m -f '{{.Version}}' go.temporal.io/server)
tools="$CACHE/tools-$(cat go.mod go.sum | sha256sum | cut -c1-16)"
if [ ! -f "$tools/.ready" ]; then
	log "preparing a module for the Temporal $server_version commands in $tools"
	rm -rf "$tools"
	mkdir -p "$tools"
	cp go.mod go.sum "$tools/"
	sed -i '1s#.*#module chaptask-dist-tools#' "$tools/go.mod"
	(cd "$tools" && go get "go.temporal.io/server/cmd/server@$server_version" \
		"go.temporal.io/server/cmd/tools/sql@$server_version")
	touch "$tools/.ready"
fi
log "building temporal-server, temporal-sql-tool, chaptask and registerns"
mkdir -p "$CACHE/bin"
(cd "$tools" && go build -o "$CACHE/bin/temporal-server" go.temporal.io/server/cmd/server &&
	go build -o "$CACHE/bin/temporal-sql-tool" go.temporal.io/server/cmd/tools/sql)
go build -o "$CACHE/bin/chaptask" ./cmd/chaptask
go build -o "$CACHE/bin/registerns" ./scripts/registerns
bin=$CACHE/bin
built_at=$(elapsed)
log "binaries ready after $built_at s"

# ---- databases and Temporal schema
for db in temporal visibility app; do
	psql -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS ${DB_PREFIX}_$db WITH (FORCE)" \
		-c "CREATE DATABASE ${DB_PREFIX}_$db" >/dev/null
done
schema="$(cd "$tools" && go list -m -f '{{.Dir}}' go.temporal.io/server)/schema/postgresql/v12"
sqltool() {
	"$bin/temporal-sql-tool" --plugin postgres12 --ep "$PGHOST" --port "$PGPORT" --user "$PGUSER" --db "$1" "${@:2}" \
		>>"$WORK/schema.log" 2>&1
}
sqltool "${DB_PREFIX}_temporal" setup-schema -v 0.0
sqltool "${DB_PREFIX}_temporal" update-schema -d "$schema/temporal/versioned"
sqltool "${DB_PREFIX}_visibility" setup-schema -v 0.0
sqltool "${DB_PREFIX}_visibility" update-schema -d "$schema/visibility/versioned"
psql -q -v ON_ERROR_STOP=1 -d "${DB_PREFIX}_visibility" -f deploy/temporal/visibility-tuning.sql >/dev/null
log "databases and Temporal schema ready"

# ---- Temporal server
datastore() {
	cat <<EOF
      sql:
        pluginName: postgres12
        databaseName: ${DB_PREFIX}_$1
        connectAddr: "$PGHOST:$PGPORT"
        connectProtocol: tcp
        user: $PGUSER
        maxConns: $2
        maxIdleConns: $2
        maxConnLifetime: 1h
EOF
}
cat >"$WORK/temporal.yaml" <<EOF
log:
  stdout: true
  level: warn
persistence:
  numHistoryShards: 4
  defaultStore: default
  visibilityStore: visibility
  datastores:
    default:
$(datastore temporal 20)
    visibility:
$(datastore visibility 10)
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc: {grpcPort: 17233, membershipPort: 16933, httpPort: 17243, bindOnLocalHost: true}
  history:
    rpc: {grpcPort: 17234, membershipPort: 16934, bindOnLocalHost: true}
  matching:
    rpc: {grpcPort: 17235, membershipPort: 16935, bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: 17239, membershipPort: 16939, bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "$FRONTEND"
dcRedirectionPolicy:
  policy: noop
EOF
"$bin/temporal-server" --config-file "$WORK/temporal.yaml" --allow-no-auth start >"$WORK/temporal.log" 2>&1 &
pids+=($!)
"$bin/registerns" -address "$FRONTEND" -namespace default -timeout 90s >>"$WORK/temporal.log" 2>&1 ||
	fail "Temporal did not come up with namespace default"
log "Temporal server serving on $FRONTEND after $(elapsed) s"

# ---- chaptask: one API, two workers
chaptask_env=(
	"DATABASE_URL=postgres://$PGUSER@$PGHOST:$PGPORT/${DB_PREFIX}_app?sslmode=disable"
	"TEMPORAL_ADDRESS=$FRONTEND"
	"CHAPTASK_SEED_EXAMPLES=false"
	"CHAPTASK_DATA_DIR=$WORK/data"
)
env "${chaptask_env[@]}" CHAPTASK_ROLE=api CHAPTASK_HTTP_ADDR=127.0.0.1:18000 \
	"$bin/chaptask" >"$WORK/api.log" 2>&1 &
pids+=($!)
# A shell command inherits TMPDIR from its worker (activities.ShellEnv): each
# worker gets its own, so the command can tell which worker ran it.
worker_pids=()
for w in 1 2; do
	mkdir -p "$WORK/worker$w"
	env "${chaptask_env[@]}" CHAPTASK_ROLE=worker CHAPTASK_MAX_CONCURRENCY=2 TMPDIR="$WORK/worker$w" \
		"$bin/chaptask" >"$WORK/worker$w.log" 2>&1 &
	pids+=($!)
	worker_pids[w]=$!
done
for _ in $(seq 1 150); do
	curl -fsS "$API/health" >/dev/null 2>&1 && break
	sleep 0.2
done
curl -fsS "$API/health" >/dev/null || fail "the API is not healthy"
ready_at=$(elapsed)
log "API healthy on $API after $ready_at s"

# ---- jobs
# Each run appends to its worker's starts file, then prints that worker's
# name: starts minus completions on worker 1 are the runs the kill cut short.
task=$(curl -fsS -X POST "$API/api/v1/tasks" -H 'Content-Type: application/json' \
	-d '{"task_type":"shell","command":"echo started >> \"$TMPDIR/starts\"; sleep 3; echo \"done on ${TMPDIR##*/}\""}' |
	jq -er .id)
jobs=()
submitted_at=$(elapsed)
for _ in $(seq 1 "$JOBS"); do
	jobs+=("$(curl -fsS -X POST "$API/api/v1/tasks/$task/\$execute" | jq -er .job_id)")
done
log "submitted $JOBS jobs of task $task"

running() {
	local n=0
	for id in "${jobs[@]}"; do
		[ "$(curl -fsS "$API/api/v1/jobs/$id" | jq -r .status)" = running ] && n=$((n + 1))
	done
	echo "$n"
}
deadline=$((SECONDS + 60))
until [ -s "$WORK/worker1/starts" ] && [ "$(running)" -ge 2 ]; do
	[ "$SECONDS" -lt "$deadline" ] || fail "no jobs running within 60 s"
	sleep 0.2
done
sleep 1 # mid-run: each run takes 3 s
n_running=$(running)
# Reaped here, so bash does not report the kill as if it were a failure.
{ kill -KILL "${worker_pids[1]}" && wait "${worker_pids[1]}"; } 2>/dev/null || true
killed_at=$(elapsed)
log "SIGKILLed worker 1 while the API showed $n_running jobs running"

deadline=$((SECONDS + 180))
declare -A status artifact
for id in "${jobs[@]}"; do
	while :; do
		job=$(curl -fsS "$API/api/v1/jobs/$id?wait=30s")
		status[$id]=$(jq -r .status <<<"$job")
		artifact[$id]=$(jq -r '.artifact_id // empty' <<<"$job")
		case ${status[$id]} in pending | running) ;; *) break ;; esac
		[ "$SECONDS" -lt "$deadline" ] || fail "job $id still ${status[$id]} after 180 s"
	done
done
finished_at=$(elapsed)

# ---- checks
completed=0 failed=0
for id in "${jobs[@]}"; do
	if [ "${status[$id]}" = completed ]; then
		completed=$((completed + 1))
	else
		failed=$((failed + 1))
		log "job $id ended ${status[$id]}"
	fi
done
artifacts=$(curl -fsS "$API/api/v1/artifacts?task_id=$task")
n_artifacts=$(jq length <<<"$artifacts")
want_ids=$(printf '%s\n' "${artifact[@]}" | sort)
got_ids=$(jq -r '.[].id' <<<"$artifacts" | sort)
[ "$failed" -eq 0 ] || fail "$failed of $JOBS jobs did not complete"
[ "$want_ids" = "$got_ids" ] || fail "artifacts of task $task do not match the jobs' artifacts one to one ($n_artifacts artifacts for $JOBS jobs)"
bad=$(jq '[.[] | select(.data.exit_code != 0 or (.data.stdout | startswith("done on worker") | not))] | length' <<<"$artifacts")
[ "$bad" -eq 0 ] || fail "$bad artifacts show a failed run"
done1=$(jq '[.[] | select(.data.stdout == "done on worker1\n")] | length' <<<"$artifacts")
done2=$(jq '[.[] | select(.data.stdout == "done on worker2\n")] | length' <<<"$artifacts")
starts1=$(wc -l <"$WORK/worker1/starts")
starts2=$(wc -l <"$WORK/worker2/starts" 2>/dev/null || echo 0)
cut_short=$((starts1 - done1))
[ "$cut_short" -ge 1 ] || fail "the kill interrupted no run on worker 1 (started $starts1, finished $done1)"

since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
cat <<EOF
chaptask distributed run: Temporal server on PostgreSQL, 1 API and 2 workers (2 jobs at a time each), separate processes
  jobs submitted: $JOBS
  jobs completed: $completed
  jobs failed:    $failed
  artifacts:      $n_artifacts, exactly one per job
  worker 1:       SIGKILLed $(since "$submitted_at" "$killed_at") s after the first submission; started $starts1 runs, finished $done1, $cut_short cut short
  worker 2:       started $starts2 runs, finished $done2 (with the $cut_short retried after the kill)
  time:           builds $built_at s, start-up $(since "$built_at" "$ready_at") s, jobs $(since "$submitted_at" "$finished_at") s (first submission to last completion), total $finished_at s
EOF
