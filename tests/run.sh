#!/usr/bin/env bash
# The test command: sets up what the tests need on a fresh machine, then runs the whole suite.
#
#   tests/run.sh
#
# 1. Debian packages the tests talk to (sip-tester, baresip, sox, espeak-ng, postgresql-client, fonts-noto-cjk,
#    chromium + chromium-driver for the web desktop's browser test):
#    installed with apt-get when missing (as root, or through sudo).
# 2. PostgreSQL: $HOTLINE_TEST_DATABASE_URL, or postgres://postgres@127.0.0.1:5432/postgres when
#    a server answers there (a local cluster that is installed but stopped is started). With
#    none the run fails, saying how to get one, unless it opted out explicitly with
#    HOTLINE_TEST_SKIP_PEERS=postgres (storage and end-to-end tests then run on SQLite only,
#    and the summary says so).
# 3. A Python venv under target/test-venv for the gRPC interop and FastAGI peers, repaired or
#    rebuilt when broken or when tests/python/requirements.txt changed.
# 4. cargo test --workspace (one debug build, shared by every later step), then the Python
#    grpcio/prometheus interop tests against the built binary, then the FastAGI peer tests,
#    then every fuzz target for a fixed number of runs (tests/fuzz.sh; needs nightly).
#
# Opt-outs, printed in the summary: HOTLINE_TEST_SKIP_PEERS=baresip,sipp (tests that need a
# peer named there return without checking; a peer missing without an opt-out FAILS the test,
# naming its package). Extra arguments are passed to `cargo test` (e.g. `-p hotline-sip`).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

say() { printf '\n==> %s (%ss)\n' "$*" "$SECONDS"; }
die() { printf 'tests/run.sh: %s\n' "$*" >&2; exit 1; }

SUMMARY=()
FAILED=0
note() { SUMMARY+=("$*"); }

# ---------------------------------------------------------------------------------------------
say "Debian packages"
declare -A PKG_OF=(
  [sipp]=sip-tester [baresip]=baresip [sox]=sox [espeak-ng]=espeak-ng [psql]=postgresql-client
  [pg_isready]=postgresql-client [chromium]=chromium [chromedriver]=chromium-driver
)
need=()
for cmd in sipp baresip sox espeak-ng psql pg_isready chromium chromedriver; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    pkg="${PKG_OF[$cmd]}"
    [[ " ${need[*]-} " == *" $pkg "* ]] || need+=("$pkg")
  fi
done
# the CJK font the report charts draw with (hotline-report's PNG/SVG tests)
[[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]] || need+=(fonts-noto-cjk)
if [[ ${#need[@]} -gt 0 ]]; then
  echo "missing: ${need[*]}; installing"
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: ${need[*]} (apt-get install -y ${need[*]})"
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq || die "apt-get update failed: cannot reach the Debian archive to install ${need[*]}"
  for pkg in "${need[@]}"; do
    "${SUDO[@]}" apt-get install -y -qq "$pkg" >/dev/null \
      || die "could not install the Debian package '$pkg' (apt-get install -y $pkg)"
  done
fi
echo "sipp $(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -n1), baresip, sox, espeak-ng, psql, chromium: present"

# ---------------------------------------------------------------------------------------------
say "PostgreSQL"
DEFAULT_PG="postgres://postgres@127.0.0.1:5432/postgres"
pg_url="${HOTLINE_TEST_DATABASE_URL:-}"
if [[ -z "$pg_url" ]]; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && command -v pg_ctlcluster >/dev/null 2>&1 \
     && [[ -d /etc/postgresql ]] && [[ $(id -u) -eq 0 ]]; then
    ver="$(ls /etc/postgresql | sort -V | tail -n1)"
    if [[ -n "$ver" && -d "/etc/postgresql/$ver/main" ]]; then
      echo "starting the local cluster $ver/main"
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
      for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
    fi
  fi
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    pg_url="$DEFAULT_PG"
  fi
fi
if [[ -n "$pg_url" ]]; then
  psql "$pg_url" -qAtc 'SELECT 1' >/dev/null 2>&1 \
    || die "HOTLINE_TEST_DATABASE_URL=$pg_url: PostgreSQL does not accept connections"
  export HOTLINE_TEST_DATABASE_URL="$pg_url"
  # scratch databases left by earlier runs
  for d in $(psql "$pg_url" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'hotline\_t\_%' OR datname LIKE 'hotline\_e2e\_%'"); do
    psql "$pg_url" -qc "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true
  done
  echo "storage and end-to-end tests run on SQLite and PostgreSQL ($pg_url)"
  note "databases: SQLite and PostgreSQL ($pg_url)"
elif [[ ",${HOTLINE_TEST_SKIP_PEERS:-}," == *",postgres,"* ]]; then
  # the run opted out of PostgreSQL itself: storage tests run on SQLite only, and say so
  unset HOTLINE_TEST_DATABASE_URL
  echo "PostgreSQL opted out (HOTLINE_TEST_SKIP_PEERS=$HOTLINE_TEST_SKIP_PEERS): SQLite ONLY"
  note "databases: SQLite ONLY (PostgreSQL opted out with HOTLINE_TEST_SKIP_PEERS)"
else
  # PostgreSQL is a peer of the storage tests like sipp is of the SIP tests: without one
  # (and without an explicit opt-out) the run fails rather than passing them unchecked.
  die "no PostgreSQL at 127.0.0.1:5432 and HOTLINE_TEST_DATABASE_URL unset: install and start \
Debian's postgresql (apt-get install -y postgresql; trust auth for 127.0.0.1), point \
HOTLINE_TEST_DATABASE_URL at a server, or opt out with HOTLINE_TEST_SKIP_PEERS=postgres (SQLite only)"
fi

# ---------------------------------------------------------------------------------------------
say "Python venv (target/test-venv)"
VENV="$REPO/target/test-venv"
REQ="$REPO/tests/python/requirements.txt"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
have="$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)"
venv_ok() {
  "$VENV/bin/python" -c 'import grpc, grpc_reflection, grpc_health, google.protobuf, pytest, prometheus_client' >/dev/null 2>&1
}
if [[ "$have" != "$want" ]] || ! venv_ok; then
  echo "building the venv (missing, broken or requirements changed)"
  rm -rf "$VENV"
  mkdir -p "$REPO/target"
  python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install -y python3-venv)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ" \
    || die "pip could not install tests/python/requirements.txt (is PyPI reachable?); the next run rebuilds the venv"
  venv_ok || die "the venv still cannot import its packages after pip install"
  echo "$want" > "$VENV/.requirements.sha256"
else
  echo "up to date"
fi
export PYTHON="$VENV/bin/python"

# ---------------------------------------------------------------------------------------------
skip="${HOTLINE_TEST_SKIP_PEERS:-}"
if [[ -n "$skip" ]]; then
  note "OPTED OUT of peers: $skip (HOTLINE_TEST_SKIP_PEERS): their tests returned without checking"
fi

CARGO_LOG="$REPO/target/test-cargo.log"
STAMP="$REPO/target/.test-run-started"
touch "$STAMP"
say "cargo test --workspace"
cargo test --workspace --locked "$@" 2>&1 | tee "$CARGO_LOG"
rc=${PIPESTATUS[0]}
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$CARGO_LOG" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$CARGO_LOG" | awk '{s+=$1} END {print s+0}')
if [[ $rc -ne 0 ]]; then
  FAILED=1
  note "cargo test: FAILED (exit $rc): $passed passed, $failed failed (log: target/test-cargo.log)"
else
  note "cargo test: $passed passed, $failed failed"
fi
total_passed=$passed
total_failed=$failed

run_py() { # name, script
  local name="$1" script="$2" log="$REPO/target/test-$1.log"
  say "$name"
  HOTLINE_BIN="$REPO/target/debug/hotline" PYTHON="$PYTHON" bash "$script" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -Eo '[0-9]+ passed' "$log" | tail -n1 | awk '{print $1+0}')
  f=$(grep -Eo '[0-9]+ failed' "$log" | tail -n1 | awk '{print $1+0}')
  p=${p:-0}; f=${f:-0}
  total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
  if [[ $rc -ne 0 ]]; then
    FAILED=1
    note "$name: FAILED (exit $rc): $p passed, $f failed (log: target/test-$name.log)"
  else
    note "$name: $p passed, $f failed"
  fi
}

have_bin() { # the binary cargo test just built for crates/hotline's integration tests
  [[ -x "$REPO/target/debug/hotline" && "$REPO/target/debug/hotline" -nt "$STAMP" ]] \
    || [[ -x "$REPO/target/debug/hotline" && $rc -eq 0 ]]
}
if [[ $# -eq 0 ]]; then
  # `cargo test --workspace` built target/debug/hotline for the binary's own tests, with the
  # workspace's feature set; a separate `cargo build -p hotline` would resolve features anew
  # and rebuild half the tree, so it runs only when that binary is missing.
  if have_bin || { say "cargo build -p hotline (the binary for the Python peers)"; cargo build -p hotline --locked; }; then
    run_py python-interop tests/python/run.sh
    if [[ -f tests/agi/run.sh ]]; then
      run_py fastagi-peer tests/agi/run.sh
    fi
  else
    FAILED=1
    note "cargo build -p hotline: FAILED; the Python peers did not run"
  fi
  # libFuzzer over every fuzz target, a fixed number of runs from a fixed seed (needs nightly;
  # without it the stable corpus replay in cargo test is what ran, and this says so)
  say "fuzz (tests/fuzz.sh)"
  bash tests/fuzz.sh 2>&1 | tee "$REPO/target/test-fuzz.log"
  frc=${PIPESTATUS[0]}
  fline=$(grep -E '^fuzz: [0-9]+ targets run' "$REPO/target/test-fuzz.log" | tail -n1)
  fr=$(grep -Eo '[0-9]+ targets run' <<<"$fline" | awk '{print $1+0}')
  ff=$(grep -Eo '[0-9]+ failed' <<<"$fline" | awk '{print $1+0}')
  fr=${fr:-0}; ff=${ff:-0}
  total_passed=$((total_passed + fr - ff)); total_failed=$((total_failed + ff))
  if [[ $frc -ne 0 ]]; then
    FAILED=1
    note "fuzz: FAILED (exit $frc): ${fline:-no summary} (log: target/test-fuzz.log)"
  else
    note "${fline:-fuzz: no summary line}"
  fi
else
  note "cargo test was limited by arguments ($*): the Python peers and the fuzzers did not run"
fi

# ---------------------------------------------------------------------------------------------
say "summary"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
echo "tests: $total_passed passed, $total_failed failed"
exit $FAILED
