#!/usr/bin/env bash
# Benchmark: SIP call setup + teardown (INVITE/100/200/ACK/BYE/200, no media) per second
# (issue 3, "Performance"). For each target rate it runs sipp's built-in UAC for SECONDS
# against (a) sipp's built-in UAS (the baseline, same machine, same run) and (b) our endpoint
# (`hotline-sip` example `answer`: tokio driver + sans-I/O endpoint, answers at once), and
# prints one line per run: achieved calls/s, successful and failed calls, retransmissions
# seen by the UAC, the server's CPU seconds and its peak RSS. Calls that fail hold sipp until
# its timeouts, so wall_s (and calls/s = ok / wall_s) under-report a run with failures.
#
#   tests/bench/sip-setup.sh
#
# Environment: RATES ("1000 2000 3000 5000"), DURATION (10 s of calls per run), SKIP_BUILD=1 to reuse
# target/release/examples/answer. Needs /usr/bin/sipp (Debian sip-tester 3.6.1).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
RATES="${RATES:-1000 2000 3000 5000}"
SECONDS_PER_RUN="${DURATION:-10}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cargo build --release -p hotline-sip --example answer >&2
fi
ANSWER="$REPO/target/release/examples/answer"

free_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
stat_of() { # file, counter name -> cumulative value (last column)
  grep -a "$2" "$1" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}'
}

run() { # label, server command...
  local label="$1"; shift
  local port; port="$(free_port)"
  "$@" "$port" >"$TMP/server.log" 2>&1 &
  local spid=$!
  sleep 0.5
  local t0; t0="$(cpu_ticks "$spid")"
  local calls=$((RATE * SECONDS_PER_RUN))
  local w0; w0="$(date +%s.%N)"
  sipp -sn uac "127.0.0.1:$port" -i 127.0.0.1 -p "$(free_port)" -mp "$(free_port)" \
    -r "$RATE" -m "$calls" -nostdin -timeout "$((SECONDS_PER_RUN * 3))s" \
    >"$TMP/uac.out" 2>&1 || true
  local w1; w1="$(date +%s.%N)"
  local t1; t1="$(cpu_ticks "$spid")"
  local rss; rss="$(awk '/VmHWM/ {print $2}' "/proc/$spid/status")"
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  local ok failed el retrans
  ok="$(stat_of "$TMP/uac.out" 'Successful call')"
  failed="$(stat_of "$TMP/uac.out" 'Failed call')"
  el="$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.3f", b-a}')"
  retrans="$(grep -a -E '^ +(INVITE|ACK|BYE) ---' "$TMP/uac.out" | awk '{s+=$4} END {print s+0}')"
  printf '%-6s rate=%-5s wall_s=%-7s calls/s=%-8s ok=%-6s failed=%-5s uac_retrans=%-6s server_cpu_s=%-6s server_peak_rss_kib=%s\n' \
    "$label" "$RATE" "$el" "$(awk -v o="${ok:-0}" -v e="$el" 'BEGIN{ if (e>0) printf "%.0f", o/e; else print 0 }')" \
    "${ok:-0}" "${failed:-?}" "$retrans" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", (b-a)/100}')" "$rss"
}

sipp_uas() { exec sipp -sn uas -i 127.0.0.1 -p "$1" -mp "$(free_port)" -nostdin; }
ours() { exec "$ANSWER" "127.0.0.1:$1"; }
export -f free_port

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); sipp $(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1)"
for RATE in $RATES; do
  run sipp sipp_uas
  run ours ours
done
