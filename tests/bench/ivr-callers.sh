#!/usr/bin/env bash
# Benchmark: callers through the real Mandarin menu (issue 5, "Performance"). Starts the
# release `hotline serve` (SQLite in a temp dir, embedded 112 simulator, real prompts) and runs
# `ivr-load`: each caller dials over SIP, listens, presses 1, a faulty number unique to the call
# and #, 1 (confirm) and a fault-type key as RFC 4733 events, hears the ticket number read back
# and is hung up on; afterwards every number is looked up over gRPC and a call without exactly
# its ticket (number, fault type, channel ivr, caller id) counts as a missed digit.
#
# Baseline in the same run: sipp's built-in UAC against sipp's built-in UAS at the same call
# rate (signalling only) — the machine's raw capacity for call setups while nothing else runs.
#
#   tests/bench/ivr-callers.sh
#
# Environment: RUNS ("500:50 1000:100" = calls:rate per run; every call lasts ~23 s of prompts,
# so calls:rate 1000:100 keeps ~1000 callers in the menu at once), SKIP_BUILD=1.
# Prints one JSON line per run (ivr-load's figures + the server's CPU seconds and peak RSS).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
RUNS="${RUNS:-500:50 1000:100}"
TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cargo build --release -p hotline -p hotline-bench >&2
fi
BIN="$REPO/target/release"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"

# baseline: raw sipp UAC → sipp UAS at the highest rate of the runs, 10 s
BASE_RATE="$(for r in $RUNS; do echo "${r#*:}"; done | sort -n | tail -1)"
UAS_PORT="$(free_port)"
sipp -sn uas -i 127.0.0.1 -p "$UAS_PORT" -mp "$(free_port)" -nostdin >"$TMP/uas.log" 2>&1 &
UAS=$!
sleep 0.5
sipp -sn uac "127.0.0.1:$UAS_PORT" -i 127.0.0.1 -p "$(free_port)" -mp "$(free_port)" \
  -r "$BASE_RATE" -m "$((BASE_RATE * 10))" -nostdin -timeout 60s >"$TMP/uac.out" 2>&1 || true
kill "$UAS" 2>/dev/null || true
ok="$(grep -a 'Successful call' "$TMP/uac.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')"
failed="$(grep -a 'Failed call' "$TMP/uac.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')"
echo "{\"baseline\":\"sipp uac -> sipp uas\",\"rate\":$BASE_RATE,\"ok\":${ok:-0},\"failed\":${failed:-0}}"

GRPC="$(free_port)"; HTTP="$(free_port)"; SIP="$(free_port)"
"$BIN/hotline" serve --data-dir "$TMP/var" --grpc-listen "127.0.0.1:$GRPC" --http-listen "127.0.0.1:$HTTP" \
  --sip-listen "127.0.0.1:$SIP" --rtp-ports 20000-39998 --admin-password bench-admin-1 --no-agi \
  >"$TMP/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$HTTP/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
TOKEN="$(HOTLINE_SERVER="http://127.0.0.1:$GRPC" "$BIN/hotline" login --agent-id admin --password bench-admin-1)"

first=1000000000
for run in $RUNS; do
  calls="${run%%:*}"; rate="${run#*:}"
  t0="$(cpu_ticks "$SERVER_PID")"
  out="$("$BIN/ivr-load" --sip "127.0.0.1:$SIP" --server "http://127.0.0.1:$GRPC" --token "$TOKEN" \
    --calls "$calls" --rate "$rate" --concurrency "$((calls * 2))" --first-number "$first")"
  t1="$(cpu_ticks "$SERVER_PID")"
  rss="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")"
  echo "${out%\}},\"server_cpu_s\":$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/100}'),\"server_peak_rss_kib\":$rss}"
  first=$((first + 1000000))
done
