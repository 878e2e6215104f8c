#!/usr/bin/env bash
# Benchmark: concurrent FastAGI sessions held in the IVR's main menu (issue 12), against a
# bare TCP echo baseline in the same run, alternated.
#
#   tests/bench/agi-sessions.sh
#
# For each of RUNS rounds: `agi-load run --mode echo` against `agi-load echo-server`, then a
# fresh `hotline serve --no-sip` (SQLite in a temp dir, `[ivr] menu_retries` huge so callers
# stay in the menu) and `agi-load run --mode agi` against its FastAGI port. Each session
# answers every command THINK_MS after it came (a prompt playing), GET DATA with a timeout.
#
# Figures per run (one JSON line each), then medians and ratios:
#   - client round trip, our reply written → next command read (echo: line → line back);
#   - server-side turnaround, reply received → next command written, from the server's own
#     histogram (log lines "agi command turnaround, last 10s" while all sessions were up;
#     the worst window's p99 is reported);
#   - server RSS idle and with all sessions up → KiB per session;
#   - CPU seconds of the server and of the whole machine during the run (others' work shows).
#
# Environment: SESSIONS (2000), SECONDS_PER_RUN (30), RAMP (10), THINK_MS (1000), RUNS (3),
#   SKIP_BUILD=1 (use target/release binaries), HOTLINE_BIN, LOAD_BIN.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
SESSIONS="${SESSIONS:-2000}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-30}"
RAMP="${RAMP:-10}"
THINK_MS="${THINK_MS:-1000}"
RUNS="${RUNS:-3}"
HOTLINE="${HOTLINE_BIN:-target/release/hotline}"
LOAD="${LOAD_BIN:-target/release/agi-load}"

if [[ -z "${SKIP_BUILD:-}" ]]; then
  [[ -n "${HOTLINE_BIN:-}" ]] || cargo build --release -p hotline
  [[ -n "${LOAD_BIN:-}" ]] || cargo build --release -p hotline-bench --bin agi-load
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP="$(mktemp -d /tmp/agi-bench.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$6+$7+$8}' /proc/stat; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
hz="$(getconf CLK_TCK)"

echo "machine: $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/ *Model name: *//'); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

ECHO_PORT="$(free_port)"
"$LOAD" echo-server --listen "127.0.0.1:$ECHO_PORT" 2>"$TMP/echo.log" &
PIDS+=($!)
sleep 0.5

RESULTS="$TMP/results.jsonl"
: > "$RESULTS"
for run in $(seq 1 "$RUNS"); do
  # --- baseline: bare TCP echo ------------------------------------------------------------
  m0="$(machine_ticks)"
  line="$("$LOAD" run --mode echo --target "127.0.0.1:$ECHO_PORT" --sessions "$SESSIONS" \
           --seconds "$SECONDS_PER_RUN" --ramp-seconds "$RAMP" --think-ms "$THINK_MS")"
  m1="$(machine_ticks)"
  echo "${line%\}},\"run\":$run,\"machine_cpu_s\":$(( (m1 - m0) / hz ))}" | tee -a "$RESULTS"

  # --- FastAGI: a fresh server -------------------------------------------------------------
  DATA="$TMP/data-$run"; mkdir -p "$DATA"
  AGI_PORT="$(free_port)"; GRPC_PORT="$(free_port)"; HTTP_PORT="$(free_port)"
  cat > "$DATA/bench.toml" <<EOF
[ivr]
menu_retries = 1000000000
[agi]
listen = "127.0.0.1:$AGI_PORT"
max_sessions = 50000
EOF
  HOTLINE_LOG=info "$HOTLINE" serve --config "$DATA/bench.toml" --data-dir "$DATA" --no-sip \
    --grpc-listen "127.0.0.1:$GRPC_PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
    --prompts "$REPO/prompts/prompts.toml" > "$DATA/serve.log" 2>&1 &
  SERVE=$!
  PIDS+=($SERVE)
  for _ in $(seq 1 200); do
    grep -q "FastAGI server listening" "$DATA/serve.log" && break
    sleep 0.1
  done
  grep -q "FastAGI server listening" "$DATA/serve.log" || { cat "$DATA/serve.log" >&2; exit 1; }
  sleep 1
  rss_idle="$(rss_kib "$SERVE")"
  c0="$(cpu_ticks "$SERVE")"; m0="$(machine_ticks)"
  "$LOAD" run --mode agi --target "127.0.0.1:$AGI_PORT" --sessions "$SESSIONS" \
    --seconds "$SECONDS_PER_RUN" --ramp-seconds "$RAMP" --think-ms "$THINK_MS" > "$TMP/agi-$run.json" &
  LOADPID=$!
  # RSS with every session up: in the middle of the measured window
  sleep $(( 2 * RAMP + SECONDS_PER_RUN / 2 ))
  rss_full="$(rss_kib "$SERVE")"
  wait "$LOADPID"
  c1="$(cpu_ticks "$SERVE")"; m1="$(machine_ticks)"
  kill -TERM "$SERVE"; wait "$SERVE" 2>/dev/null || true
  # server-side windows with all sessions up
  read -r n_win p50 p99 max_p99 <<<"$(grep 'agi command turnaround, last 10s' "$DATA/serve.log" \
    | sed -n 's/.*sessions=\([0-9]*\).*p50=\([0-9]*\)us p99=\([0-9]*\)us.*/\1 \2 \3/p' \
    | awk -v want="$SESSIONS" '$1 >= want {n++; p50[n]=$2; p99[n]=$3; if ($3>m) m=$3}
        END { if (n==0) {print 0, 0, 0, 0; exit}
              asort(p50); asort(p99); print n, p50[int((n+1)/2)], p99[int((n+1)/2)], m }')"
  per_session=$(( (rss_full - rss_idle) * 1024 / SESSIONS ))
  line="$(cat "$TMP/agi-$run.json")"
  echo "${line%\}},\"run\":$run,\"server_windows\":$n_win,\"server_p50_us\":$p50,\"server_p99_us_median\":$p99,\"server_p99_us_worst\":$max_p99,\"rss_idle_kib\":$rss_idle,\"rss_full_kib\":$rss_full,\"bytes_per_session\":$per_session,\"server_cpu_s\":$(( (c1 - c0) / hz )),\"machine_cpu_s\":$(( (m1 - m0) / hz ))}" | tee -a "$RESULTS"
done

python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = lambda xs: statistics.median(xs) if xs else 0
echo = [r for r in rows if r["mode"] == "Echo"]
agi = [r for r in rows if r["mode"] == "Agi"]
e50, e99 = med([r["rtt_p50_us"] for r in echo]), med([r["rtt_p99_us"] for r in echo])
a50, a99 = med([r["rtt_p50_us"] for r in agi]), med([r["rtt_p99_us"] for r in agi])
print(json.dumps({
    "summary": "medians of alternated runs",
    "runs": len(agi),
    "sessions": agi[0]["sessions"] if agi else 0,
    "echo_rtt_p50_us": e50, "echo_rtt_p99_us": e99,
    "agi_rtt_p50_us": a50, "agi_rtt_p99_us": a99,
    "rtt_p50_ratio": round(a50 / e50, 2) if e50 else None,
    "rtt_p99_ratio": round(a99 / e99, 2) if e99 else None,
    "client_p99_minus_echo_us": a99 - e99,
    "server_p50_us": med([r["server_p50_us"] for r in agi]),
    "server_p99_us": med([r["server_p99_us_median"] for r in agi]),
    "server_p99_us_worst_window": max([r["server_p99_us_worst"] for r in agi] or [0]),
    "bytes_per_session": med([r["bytes_per_session"] for r in agi]),
    "ended_early": sum(r["ended_early"] for r in agi),
    "connect_failures": sum(r["connect_failures"] for r in agi),
}))
PY
