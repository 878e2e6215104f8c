#!/usr/bin/env bash
# Benchmark: `hotline intake import` of a generated mbox (issue 15: 10,000 messages ≤ 30 s).
#
#   tests/bench/intake-import.sh
#
# For each of RUNS rounds: a fresh `hotline serve --no-sip` (SQLite in a temp dir, the
# document store under it), a text-entry clerk, then the timed import of MESSAGES generated
# messages (tests/bench/make_mbox.py: GBK base64, GB2312 quoted-printable, UTF-8 multipart with
# a PDF attachment; one third each), checked (imported = MESSAGES), then the timed re-run
# (must be a no-op: skipped = MESSAGES). Prints one line per run and the medians.
#
# Environment: MESSAGES (10000), RUNS (3), HOTLINE_BIN (default target/debug/hotline, built
#   here unless SKIP_BUILD=1).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
MESSAGES="${MESSAGES:-10000}"
RUNS="${RUNS:-3}"
HOTLINE="${HOTLINE_BIN:-target/debug/hotline}"
if [[ -z "${SKIP_BUILD:-}" && -z "${HOTLINE_BIN:-}" ]]; then
  cargo build -p hotline
fi

TMP="$(mktemp -d /tmp/intake-bench.XXXXXX)"
PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

echo "machine: $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/ *Model name: *//'); load $(cut -d' ' -f1-3 /proc/loadavg); binary $HOTLINE" >&2
python3 tests/bench/make_mbox.py "$TMP/bench.mbox" "$MESSAGES"
echo "mbox: $MESSAGES messages, $(du -h "$TMP/bench.mbox" | cut -f1)" >&2

firsts=(); reruns=()
for run in $(seq 1 "$RUNS"); do
  DATA="$TMP/run$run"; mkdir -p "$DATA"
  GRPC="$(free_port)"; HTTP="$(free_port)"
  HOTLINE_LOG=warn "$HOTLINE" serve --data-dir "$DATA" --no-sip --no-agi --grpc-listen "127.0.0.1:$GRPC" \
    --http-listen "127.0.0.1:$HTTP" --admin-password bench-admin > "$DATA/serve.log" 2>&1 &
  PID=$!
  export HOTLINE_SERVER="http://127.0.0.1:$GRPC"
  for _ in $(seq 1 100); do
    HOTLINE_TOKEN="$("$HOTLINE" login --agent-id admin --password bench-admin 2>/dev/null)" && break
    sleep 0.2
  done
  export HOTLINE_TOKEN
  "$HOTLINE" agent --agent-id c1 --role text_entry --password c1-password >/dev/null
  export HOTLINE_TOKEN="$("$HOTLINE" login --agent-id c1 --password c1-password)"
  t0="$(now)"
  out="$("$HOTLINE" intake import "$TMP/bench.mbox" 2>"$DATA/import.err")"
  t1="$(now)"
  grep -Eq "imported $MESSAGES, skipped 0( \([^)]*\))?, failed 0" <<<"$out" || { echo "unexpected: $out" >&2; cat "$DATA/import.err" >&2; exit 1; }
  again="$("$HOTLINE" intake import "$TMP/bench.mbox" 2>>"$DATA/import.err")"
  t2="$(now)"
  grep -Eq "imported 0, skipped $MESSAGES( \([^)]*\))?, failed 0" <<<"$again" || { echo "re-run not a no-op: $again" >&2; exit 1; }
  first="$(echo "$t1 - $t0" | bc)"; rerun="$(echo "$t2 - $t1" | bc)"
  firsts+=("$first"); reruns+=("$rerun")
  echo "{\"run\":$run,\"messages\":$MESSAGES,\"import_s\":$first,\"rerun_s\":$rerun,\"per_s\":$(echo "$MESSAGES / $first" | bc)}"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median import: $(median "${firsts[@]}") s, median no-op re-run: $(median "${reruns[@]}") s ($MESSAGES messages, $RUNS runs)"
