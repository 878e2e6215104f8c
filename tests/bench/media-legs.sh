#!/bin/sh
# hotline-media benchmark: LEGS concurrent legs each playing a looping prompt to a UDP sink on
# 127.0.0.1; prints receiver-side interval deviation p50/p99, loss, CPU and RSS per leg.
# Usage: tests/bench/media-legs.sh [LEGS] [SECONDS] [extra bench args, e.g. --shards 2]
# PRIO=rt runs it under SCHED_FIFO 10 (chrt), PRIO=nice under nice -10. Figures: BENCHMARKS.md (RTP media).
# BENCH_BIN runs another build of the bench binary (an A/B against an older commit, e.g. one
# built by `cargo bench -p hotline-media --bench media_legs --no-run` in a git worktree);
# SKIP_BUILD=1 uses the newest target/release/deps/media_legs-* without building.
set -eu
cd "$(dirname "$0")/../.."
ulimit -n 20000 2>/dev/null || true
legs=${1:-2000}; secs=${2:-20}
[ $# -ge 1 ] && shift; [ $# -ge 1 ] && shift
if [ -n "${BENCH_BIN:-}" ]; then
  bin=$BENCH_BIN
else
  [ "${SKIP_BUILD:-0}" = 1 ] || cargo bench -p hotline-media --bench media_legs --no-run 2>/dev/null
  bin=$(ls -t target/release/deps/media_legs-* | grep -v '\.d$' | head -1)
fi
case "${PRIO:-}" in
  rt) wrap="chrt -f 10" ;;
  nice) wrap="nice -n -10" ;;
  *) wrap="" ;;
esac
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1-3 /proc/loadavg); prio: ${PRIO:-default}; bin: $bin"
# shellcheck disable=SC2086
$wrap "$bin" --legs "$legs" --seconds "$secs" "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
