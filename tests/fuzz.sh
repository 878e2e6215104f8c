#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/*.rs) under libFuzzer for a fixed number of runs
# from a fixed seed, so the same tree fuzzes the same inputs every time. Needs the nightly
# toolchain (libFuzzer's sanitizer flags) and cargo-fuzz; without nightly it says so and exits 0:
# crates/hotline-fuzz/tests/corpus.rs (part of `cargo test`) still replays the corpus and every
# kept crash on stable.
#
#   tests/fuzz.sh                  # every target, HOTLINE_FUZZ_RUNS runs each (default 50000)
#   tests/fuzz.sh sip_message 600  # one target for 600 s (a long run: record it in BENCHMARKS.md)
#
# A crash leaves its input in fuzz/artifacts/<target>/; copy it to fuzz/regressions/<target>/
# when it is fixed, so the stable replay keeps it.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: SKIPPED (no nightly toolchain: 'rustup toolchain install nightly'); the corpus replay in cargo test still ran" >&2
    echo "fuzz: 0 targets run (no nightly)"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked --quiet || { echo "fuzz: cargo install cargo-fuzz failed" >&2; exit 1; }
fi

runs="${HOTLINE_FUZZ_RUNS:-50000}"
if [ $# -ge 1 ]; then
    targets=("$1")
    limit=(-max_total_time="${2:-60}")
else
    mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
    limit=(-runs="$runs" -seed=1)
fi

(cd fuzz && cargo +nightly fuzz build -O --debug-assertions) || { echo "fuzz: build failed" >&2; exit 1; }

failed=0
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    # a scratch corpus copy: new inputs found in a short run are not committed by accident
    scratch="$(mktemp -d)"
    cp -r "fuzz/corpus/$t/." "$scratch/"
    start=$(date +%s)
    if out=$(cd fuzz && cargo +nightly fuzz run -O --debug-assertions "$t" "$scratch" -- \
            "${limit[@]}" -max_len=8192 -rss_limit_mb=2048 -print_final_stats=1 2>&1); then
        execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' <<<"$out" | grep -o '[0-9]*$')
        cov=$(grep -o 'cov: [0-9]*' <<<"$out" | tail -1 | grep -o '[0-9]*')
        echo "fuzz: $t ok: ${execs:-?} execs in $(( $(date +%s) - start )) s, coverage ${cov:-?} edges"
    else
        failed=$((failed + 1))
        echo "fuzz: $t FAILED; the input is in fuzz/artifacts/$t/:" >&2
        tail -40 <<<"$out" >&2
    fi
    rm -rf "$scratch"
done
echo "fuzz: ${#targets[@]} targets run, $failed failed"
[ "$failed" -eq 0 ]
