#!/usr/bin/env bash
# Benchmark (issue 20, "floods and scanners"): legitimate calls during a SIP flood. Our
# endpoint (`hotline-sip` example `answer --drops`, listening on 0.0.0.0) takes calls from
# sipp's built-in UAC on 127.0.0.1 (RATE calls/s for DURATION s) while a second sipp floods it
# with fire-and-forget OPTIONS (tests/bench/sipp/options-flood.xml, sequential extensions)
# from a non-loopback address of this machine (FLOOD_IP, default the first of `hostname -I`)
# at FLOOD_RATE messages/s. Runs alternate: no flood, flood, no flood, flood, ... (RUNS pairs).
# Each line: condition, legitimate calls ok/failed, the flood's messages actually sent, the
# server's CPU seconds, and its drop counters at the end (rate limited, banned, ...).
#
#   tests/bench/sip-flood.sh
#
# Environment: RATE (50), DURATION (10), FLOOD_RATE (10000), RUNS (3), SKIP_BUILD=1.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
RATE="${RATE:-50}"
DURATION="${DURATION:-10}"
FLOOD_RATE="${FLOOD_RATE:-10000}"
RUNS="${RUNS:-3}"
FLOOD_IP="${FLOOD_IP:-$(hostname -I | awk '{print $1}')}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"; kill $(jobs -p) 2>/dev/null || true' EXIT
command -v sipp >/dev/null || { echo "needs sipp: apt-get install -y sip-tester" >&2; exit 1; }
[[ -n "$FLOOD_IP" && "$FLOOD_IP" != 127.* ]] || { echo "no non-loopback address for the flood (set FLOOD_IP)" >&2; exit 1; }

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cargo build --release -p hotline-sip --example answer >&2
fi
ANSWER="$REPO/target/release/examples/answer"

free_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("0.0.0.0",0));print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
stat_of() { grep -a "$2" "$1" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}'; }

run() { # condition: calm | flood
  local port; port="$(free_port)"
  "$ANSWER" "0.0.0.0:$port" --drops >"$TMP/server.log" 2>&1 &
  local spid=$!
  sleep 0.5
  local t0; t0="$(cpu_ticks "$spid")"
  local fpid=""
  if [[ "$1" == flood ]]; then
    sipp -sf tests/bench/sipp/options-flood.xml "$FLOOD_IP:$port" -i "$FLOOD_IP" -p "$(free_port)" \
      -r "$FLOOD_RATE" -m "$((FLOOD_RATE * (DURATION + 2)))" -nostdin -timeout "$((DURATION + 4))s" \
      -trace_stat -stf "$TMP/flood.csv" >"$TMP/flood.out" 2>&1 &
    fpid=$!
    sleep 1
  fi
  sipp -sn uac "127.0.0.1:$port" -i 127.0.0.1 -p "$(free_port)" -mp "$(free_port)" \
    -r "$RATE" -m "$((RATE * DURATION))" -nostdin -timeout "$((DURATION * 3))s" \
    >"$TMP/uac.out" 2>&1 || true
  local sent=0
  if [[ -n "$fpid" ]]; then
    wait "$fpid" 2>/dev/null || true
    sent="$(grep -a -E '^ +OPTIONS ---' "$TMP/flood.out" | tail -1 | awk '{print $3+0}')"
  fi
  sleep 1.2
  local t1; t1="$(cpu_ticks "$spid")"
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  local drops; drops="$(grep -a '^drops:' "$TMP/server.log" | tail -1 | sed 's/^drops: DropCounters //')"
  printf '%-5s legit_ok=%-5s legit_failed=%-4s flood_sent=%-7s server_cpu_s=%-6s %s\n' \
    "$1" "$(stat_of "$TMP/uac.out" 'Successful call')" "$(stat_of "$TMP/uac.out" 'Failed call')" \
    "${sent:-0}" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", (b-a)/100}')" "$drops"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); sipp $(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1); legit $RATE calls/s x ${DURATION}s from 127.0.0.1, flood $FLOOD_RATE OPTIONS/s from $FLOOD_IP"
for _ in $(seq "$RUNS"); do
  run calm
  run flood
done
