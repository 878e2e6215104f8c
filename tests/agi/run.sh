#!/usr/bin/env bash
# FastAGI peer tests: a scripted Asterisk (tests/agi/agi_peer.py, Python stdlib, written from
# res_agi's behaviour) against a real `hotline serve` started on free loopback ports with
# SQLite in a temporary data dir (see tests/agi/conftest.py).
#
#   HOTLINE_BIN=target/debug/hotline PYTHON=target/test-venv/bin/python tests/agi/run.sh [pytest args]
#
# HOTLINE_BIN: the built binary (default target/debug/hotline, relative to the repo root).
# PYTHON: a python3 with pytest and grpcio (tests/python/requirements.txt); default python3.
# Exits non-zero when a test fails.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

HOTLINE_BIN="${HOTLINE_BIN:-target/debug/hotline}"
case "$HOTLINE_BIN" in /*) ;; *) HOTLINE_BIN="$REPO/$HOTLINE_BIN" ;; esac
if [[ ! -x "$HOTLINE_BIN" ]]; then
  echo "tests/agi/run.sh: $HOTLINE_BIN not found or not executable; run 'cargo build -p hotline' or set HOTLINE_BIN" >&2
  exit 2
fi
export HOTLINE_BIN
PY="${PYTHON:-python3}"
"$PY" -c 'import pytest, grpc, grpc_reflection, grpc_health' 2>/dev/null || {
  echo "tests/agi/run.sh: $PY lacks pytest/grpcio; install tests/python/requirements.txt or set PYTHON" >&2
  exit 2
}
# 10,000 idle connections are part of the tests
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$PY" -m pytest -p no:cacheprovider -q tests/agi "$@"
