#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need
# (redis-server, the package with its test extra), runs the linters and the
# type checker, then pytest. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
fi

PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q -e ".[test]"
# Node.js oracles for the schemas (ajv, json-schema-diff, the AsyncAPI specs), from the lockfile.
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error

# The example app's committed schemas must be current.
actorschema check examples.shop --out schemas/

python3 -m ruff check actorschema tests benchmarks examples
python3 -m ruff format --check actorschema tests benchmarks examples
python3 -m mypy --strict actorschema

python3 -m pytest "$@"
