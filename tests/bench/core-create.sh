#!/usr/bin/env bash
# Benchmark: durable ticket creation over gRPC (issue 2), on SQLite and on PostgreSQL.
#
#   tests/bench/core-create.sh
#
# Builds release binaries, then for each backend starts `hotline serve` on loopback ports,
# runs `ticket-load --rpc baseline` (GetTimeRules: gRPC + auth, no database) and then
# `ticket-load --rpc create` (CreateTicket: a committed ticket per reply), and prints one JSON
# line per run: ticket-load's figures plus the backend and the CPU seconds used during the run
# by the server, the load generator (which shares the machine), PostgreSQL's processes, the
# whole machine, and everything else (`other_cpu_s`: another user's work skews the figures).
#
# Environment:
#   CLIENTS (64), SECONDS_PER_RUN (10), CONNECTIONS (4)
#   BACKENDS ("sqlite postgres")
#   PG_URL_BASE (postgres://postgres@127.0.0.1:5432), PSQL_ARGS (-h 127.0.0.1 -U postgres)
#   SKIP_BUILD=1 to use the existing target/release binaries.
#   HOTLINE_BIN: a `hotline` binary to run instead of target/release/hotline (e.g. a build of
#   an older commit, to compare in the same window); only ticket-load is built then.
#   LOAD_BIN: a `ticket-load` binary instead of target/release/ticket-load.
#   SERVE_CONFIG: a TOML file passed to `hotline serve --config` (e.g. a `[store]` section to
#   try other writer shards or batch sizes).
#   HOTLINE_LOG: the server's log filter (unset = its default, info: one line per ticket,
#   written to a file in the temp dir).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

CLIENTS="${CLIENTS:-64}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
CONNECTIONS="${CONNECTIONS:-4}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PG_URL_BASE="${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}"
read -r -a PSQL <<<"${PSQL_ARGS:--h 127.0.0.1 -U postgres}"
PASSWORD="bench-secret-1"

HOTLINE="${HOTLINE_BIN:-target/release/hotline}"
LOAD="${LOAD_BIN:-target/release/ticket-load}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  build=()
  [[ -n "${HOTLINE_BIN:-}" ]] || build+=(-p hotline)
  [[ -n "${LOAD_BIN:-}" ]] || build+=(-p hotline-bench)
  if ((${#build[@]})); then
    cargo build --release "${build[@]}" >&2
  fi
fi
for bin in "$HOTLINE" "$LOAD"; do
  [[ -x "$bin" ]] || { echo "core-create: $bin is not an executable" >&2; exit 1; }
done

log() { echo "core-create: $*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# CPU seconds (user+system) a process has used so far.
cpu_s() {
  local pid=$1 tck
  tck=$(getconf CLK_TCK)
  awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$pid/stat"
}

# Busy CPU seconds of the whole machine so far (all cores), from /proc/stat.
machine_busy_s() {
  local tck
  tck=$(getconf CLK_TCK)
  awk -v t="$tck" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / t; exit }' /proc/stat
}

# CPU seconds used so far by all processes named postgres (the database's backends).
postgres_cpu_s() {
  local tck
  tck=$(getconf CLK_TCK)
  # Processes may exit while being read: cat's complaint is not an error here.
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v t="$tck" '$2 == "(postgres)" { s += $14 + $15 } END { printf "%.2f", s / t }'
}

WORK=""
SERVER_PID=""
PG_DB=""

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  if [[ -n "$PG_DB" ]]; then
    psql "${PSQL[@]}" -q -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    PG_DB=""
  fi
  if [[ -n "$WORK" ]]; then
    rm -rf "$WORK"
    WORK=""
  fi
}
trap cleanup EXIT
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

stop_server() {
  kill -TERM "$SERVER_PID"
  local rc=0
  for _ in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    log "server did not stop within 10 s of SIGTERM; killing it"
    kill -KILL "$SERVER_PID" || true
  fi
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  [[ $rc == 0 ]] || log "server exited with $rc"
}

run_load() {
  local backend=$1 rpc=$2 grpc=$3
  local s0 s1 m0 m1 p0 p1 out times
  m0=$(machine_busy_s)
  p0=$(postgres_cpu_s)
  s0=$(cpu_s "$SERVER_PID")
  times=$(mktemp)
  # Bash's `time` gives the load generator's own CPU; TIMEFORMAT prints user+sys seconds.
  out=$( { TIMEFORMAT='%3U %3S'; time "$LOAD" --server "http://$grpc" --agent-id admin --password "$PASSWORD" \
    --clients "$CLIENTS" --seconds "$SECONDS_PER_RUN" --connections "$CONNECTIONS" --rpc "$rpc"; } 2>"$times")
  s1=$(cpu_s "$SERVER_PID")
  p1=$(postgres_cpu_s)
  m1=$(machine_busy_s)
  # stderr of the load generator (error codes) precedes the time line.
  head -n -1 "$times" >&2 || true
  local load_cpu
  load_cpu=$(tail -n 1 "$times" | awk '{ printf "%.2f", $1 + $2 }')
  rm -f "$times"
  local server_cpu pg_cpu busy other
  server_cpu=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')
  pg_cpu=$(awk -v a="$p0" -v b="$p1" 'BEGIN { printf "%.2f", b - a }')
  busy=$(awk -v a="$m0" -v b="$m1" 'BEGIN { printf "%.2f", b - a }')
  # Whatever else ran on the machine meanwhile (other users' work skews the figures).
  other=$(awk -v b="$busy" -v s="$server_cpu" -v l="$load_cpu" -v p="$pg_cpu" 'BEGIN { o = b - s - l - p; if (o < 0) o = 0; printf "%.2f", o }')
  echo "$out" | sed -e "s/^{/{\"backend\":\"$backend\",/" \
    -e "s/}\$/,\"server_cpu_s\":$server_cpu,\"load_cpu_s\":$load_cpu,\"postgres_cpu_s\":$pg_cpu,\"machine_busy_s\":$busy,\"other_cpu_s\":$other}/"
}

bench_backend() {
  local backend=$1
  WORK=$(mktemp -d -t hotline-bench-XXXXXX)
  local db_args=()
  if [[ $backend == postgres ]]; then
    PG_DB="hotline_bench_$$_$RANDOM"
    psql "${PSQL[@]}" -q -c "CREATE DATABASE $PG_DB" >/dev/null
    db_args=(--database-url "$PG_URL_BASE/$PG_DB")
  fi
  "$HOTLINE" admin --data-dir "$WORK" "${db_args[@]}" --agent-id admin --role admin --password "$PASSWORD" >/dev/null
  local gport hport
  gport=$(free_port)
  hport=$(free_port)
  local cfg_args=()
  [[ -z "${SERVE_CONFIG:-}" ]] || cfg_args=(--config "$SERVE_CONFIG")
  "$HOTLINE" serve --data-dir "$WORK" "${db_args[@]}" "${cfg_args[@]}" \
    --grpc-listen "127.0.0.1:$gport" --http-listen "127.0.0.1:$hport" --no-agi >"$WORK/serve.log" 2>&1 &
  SERVER_PID=$!
  local ready=0
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$hport/healthz" >/dev/null 2>&1; then
      ready=1
      break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ $ready != 1 ]]; then
    log "$backend: server did not come up:"
    cat "$WORK/serve.log" >&2
    exit 1
  fi
  log "$backend: server pid $SERVER_PID on 127.0.0.1:$gport"
  run_load "$backend" baseline "127.0.0.1:$gport"
  run_load "$backend" create "127.0.0.1:$gport"
  if [[ $backend == postgres ]]; then
    log "$backend: tickets stored: $(psql "${PSQL[@]}" -d "$PG_DB" -Atc 'SELECT count(*) FROM tickets')"
  fi
  stop_server
  if grep -qE ' (WARN|ERROR) ' "$WORK/serve.log"; then
    log "$backend: server warnings/errors:"
    grep -E ' (WARN|ERROR) ' "$WORK/serve.log" | head -n 20 >&2
  fi
  cleanup
}

log "$(date -u +%FT%TZ) $(nproc) cores, $(uname -r), load: $(cut -d' ' -f1-3 /proc/loadavg)"
log "tree: $(git describe --always --dirty 2>/dev/null || echo unknown); hotline $HOTLINE built $(date -u -r "$HOTLINE" +%FT%TZ)"
for b in $BACKENDS; do
  bench_backend "$b"
done
