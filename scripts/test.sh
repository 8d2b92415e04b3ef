#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need
# (redis-server, rabbitmq-server and Node.js, the package with its test
# extra at the versions pinned in constraints.txt, the Node.js oracles),
# checks the example app's schemas, runs the linters and the type checker,
# the version matrix (scripts/versions.sh: newest and oldest supported),
# then pytest. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
command -v node >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing="$missing rabbitmq-server"
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        # The tests start private servers: the install must not start system
        # ones (a broker on 5672, epmd on 4369). invoke-rc.d honours exit 101.
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
    if [ -n "$own_policy" ]; then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
fi

# Pinned: the versions in constraints.txt (scripts/lock.sh), so a fresh machine resolves
# exactly what CI resolves; uv (for the version matrix below) is pinned there too.
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q -c constraints.txt -e ".[test]" uv
# Node.js oracles for the schemas (ajv, json-schema-diff, the AsyncAPI specs), from the lockfile.
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
# The Node.js producer example (issue 5), from its own lockfile.
npm ci --prefix examples/producers/node --no-audit --no-fund --loglevel=error

# The example app's committed schemas must be current.
actorschema check examples.shop --out schemas/

python3 -m ruff check actorschema tests benchmarks examples
python3 -m ruff format --check actorschema tests benchmarks examples
python3 -m mypy --strict actorschema

# The contract, schema and worker tests on the newest and the oldest supported versions
# (with pytest arguments, a developer's partial run, the matrix is left out). The whole
# suite then runs on two pytest-xdist workers, a file per worker at a time (module fixtures
# are built once); each worker starts its own servers.
if [ $# -eq 0 ]; then
    ./scripts/versions.sh
    set -- -n 2 --dist loadfile
fi

python3 -m pytest "$@"
