#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it.
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: xmlsec1 (SAML), chromium (browser tests). Installed only when missing.
need=()
command -v xmlsec1 >/dev/null 2>&1 || need+=(xmlsec1)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "warning: missing system packages: ${need[*]} (install them with apt-get)" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

# PostgreSQL for the PostgreSQL variant of every storage test (127.0.0.1:5432, trust auth).
export GREENROOM_TEST_PG_URL=${GREENROOM_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}

# In parallel (pytest-xdist, one worker more than CPUs; PYTEST_WORKERS overrides): the suite
# is mostly real servers, browsers and databases waiting on each other.
exec .venv/bin/python -m pytest -q -n "${PYTEST_WORKERS:-$(( $(nproc) + 1 ))}" "$@"
