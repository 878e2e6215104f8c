#!/usr/bin/env bash
# Benchmark: concurrent SIP calls each hearing a looping prompt (issue 3, "Performance").
#
#   tests/bench/sip-prompts.sh
#
# sipp (Debian sip-tester) places CALLS calls at RATE/s with the scenario
# tests/bench/sipp/prompt-uac.xml; every call's SDP points at one RTP sink (`rtp-sink` from
# crates/hotline-bench), which tells the streams apart by source address. The server is
# `prompt_uas` (crates/hotline-calls/examples): the real SIP driver + endpoint answering each
# INVITE, a hotline-media leg per call negotiated from the caller's offer, a looping prompt
# until BYE. Once every call is up the sink measures |inter-packet interval - 20 ms| per
# stream for SECONDS; then the calls hang up. Printed: sipp's successful/failed calls, the
# sink's figures (p*_ms from user-space receive times, kernel_p*_ms from SO_TIMESTAMPNS), the
# server's CPU (total and per thread name: rtp-pacer, tokio workers) and its RSS per call
# beyond the idle process, and how late the pacer sent and the leg tasks woke up.
#
# Baseline in the same run: `rtp-sink --blast CALLS` sends CALLS raw UDP streams (one thread,
# absolute deadlines, no SIP, no tokio) to the same kind of sink for the same time.
#
# Environment: CALLS (2000), RATE (200 calls/s), MEASURE_S (15 s measured), SKIP_BUILD=1,
# PRIO=rt to run the server under `chrt -f 10`, UAS_ARGS (e.g. "--workers 1", or
# "--pacing timer" to send from the leg tasks without the pacer thread, "--grid off" to start
# each playback on whatever phase it was asked, "--send-ahead-ms N") for the server.
# UAS_BIN runs another build of prompt_uas (an A/B against an older commit). Needs /usr/bin/sipp.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
CALLS="${CALLS:-2000}"
RATE="${RATE:-200}"
SECONDS_MEASURED="${MEASURE_S:-15}"
RAMP=$(((CALLS + RATE - 1) / RATE))
START_AFTER=$((RAMP + 3))
HOLD_MS=$(((START_AFTER + SECONDS_MEASURED + 2) * 1000))
TMP="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cargo build --release -p hotline-calls --example prompt_uas -p hotline-bench --bin rtp-sink >&2
fi
UAS="${UAS_BIN:-$REPO/target/release/examples/prompt_uas}"
SINK="$REPO/target/release/rtp-sink"
command -v sipp >/dev/null || { echo "sip-prompts: sipp not found (apt-get install sip-tester)" >&2; exit 1; }

free_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# "comm ticks" per thread of a process (comm may not contain spaces here: tokio-runtime-w, rtp-pacer)
thread_ticks() { for t in /proc/"$1"/task/*; do echo "$(cat "$t/comm" | tr ' ' _) $(awk '{print $14+$15}' "$t/stat")"; done | sort; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg); $CALLS calls at $RATE/s, measured ${SECONDS_MEASURED} s"

# 1. baseline: raw UDP streams into the sink
port="$(free_port)"
"$SINK" --port "$port" --start-after 3 --seconds "$SECONDS_MEASURED" >"$TMP/base.json" &
sink_pid=$!
sleep 0.3
"$SINK" --blast "$CALLS" --port "$port" --start-after 3 --seconds "$((SECONDS_MEASURED + 1))" >/dev/null
wait "$sink_pid"
echo "baseline raw-udp $(cat "$TMP/base.json")"

# 2. the server under sipp
sip_port="$(free_port)"
rtp_sink_port="$(free_port)"
prio=()
[[ "${PRIO:-}" == rt ]] && prio=(chrt -f 10)
"${prio[@]}" "$UAS" "127.0.0.1:$sip_port" ${UAS_ARGS:-} 2>"$TMP/uas.log" &
uas_pid=$!
PIDS+=("$uas_pid")
sleep 0.5
rss0="$(rss_kib "$uas_pid")"
"$SINK" --port "$rtp_sink_port" --start-after "$START_AFTER" --seconds "$SECONDS_MEASURED" >"$TMP/sink.json" &
sink_pid=$!
sipp "127.0.0.1:$sip_port" -sf tests/bench/sipp/prompt-uac.xml -key sink_port "$rtp_sink_port" \
  -i 127.0.0.1 -p "$(free_port)" -m "$CALLS" -l "$CALLS" -r "$RATE" -d "$HOLD_MS" \
  -nostdin -timeout "$((HOLD_MS / 1000 + 60))s" >"$TMP/uac.out" 2>&1 &
sipp_pid=$!
PIDS+=("$sipp_pid")
sleep "$START_AFTER"
c0="$(cpu_ticks "$uas_pid")"
thread_ticks "$uas_pid" >"$TMP/threads0"
rss1="$(rss_kib "$uas_pid")"
live="$(grep -a 'live calls' "$TMP/uas.log" | tail -1 | awk '{print $2}')"
sleep "$SECONDS_MEASURED"
c1="$(cpu_ticks "$uas_pid")"
thread_ticks "$uas_pid" >"$TMP/threads1"
wait "$sink_pid"
wait "$sipp_pid" || true
ok="$(grep -a 'Successful call' "$TMP/uac.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')"
failed="$(grep -a 'Failed call' "$TMP/uac.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')"
echo "ours live_calls_at_start=${live:-?} sipp_ok=${ok:-?} sipp_failed=${failed:-?} server_cpu_pct=$(awk -v a="$c0" -v b="$c1" -v s="$SECONDS_MEASURED" 'BEGIN{printf "%.0f", (b-a)/s}') rss_per_call_kib=$(awk -v a="$rss0" -v b="$rss1" -v n="$CALLS" 'BEGIN{printf "%.1f", (b-a)/n}') sink=$(cat "$TMP/sink.json")"
# per-thread CPU of the server over the measured window, % of a core (summed by thread name)
echo "server threads: $(join -j1 <(awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' "$TMP/threads0" | sort) \
  <(awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' "$TMP/threads1" | sort) |
  awk -v s="$SECONDS_MEASURED" '{d=($3-$2)/s; if (d>=1) printf "%s=%.0f%% ", $1, d}')"
kill -INT "$uas_pid" 2>/dev/null || true
wait "$uas_pid" 2>/dev/null || true
grep -a 'lateness' "$TMP/uas.log" || true
