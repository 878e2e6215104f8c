#!/usr/bin/env bash
# Python interop tests against a real `hotline serve` (see tests/python/conftest.py).
#
#   tests/python/run.sh [pytest args...]
#
# HOTLINE_BIN: the hotline binary (default target/debug/hotline, relative to the repo root);
# build it first with `cargo build -p hotline`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

export HOTLINE_BIN="${HOTLINE_BIN:-target/debug/hotline}"
if [[ ! -x "$HOTLINE_BIN" ]]; then
  echo "run.sh: $HOTLINE_BIN not found or not executable; run 'cargo build -p hotline' or set HOTLINE_BIN" >&2
  exit 2
fi

# PYTHON: a python with tests/python/requirements.txt installed (tests/run.sh passes its venv's);
# without it, a venv is made in $REPO/.venv.
if [[ -n "${PYTHON:-}" ]]; then
  PY="$PYTHON"
else
  if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  PY=.venv/bin/python
fi

exec "$PY" -m pytest -p no:cacheprovider -q tests/python "$@"
