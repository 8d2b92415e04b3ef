#!/usr/bin/env bash
# The supported range, both ends: the contract, schema and worker-side tests (StubBroker level,
# no servers) and `actorschema check` of the committed schemas, each in a throwaway uv
# virtualenv with
#   - highest:       the newest versions a fresh install resolves today (no constraints), and
#   - lowest-direct: the oldest versions pyproject.toml allows for each direct dependency.
# scripts/test.sh runs it after the pinned suite; the pinned versions are in constraints.txt.
# Usage: scripts/versions.sh [highest|lowest-direct]...   (both by default)
set -euo pipefail
cd "$(dirname "$0")/.."

TESTS=(
    tests/unit/test_contract.py
    tests/unit/test_hints.py
    tests/unit/test_schema.py
    tests/unit/test_numbers.py
    tests/brokers/test_stub.py
    tests/interop/test_differential.py
    tests/unit/test_validate.py
    tests/unit/test_metrics.py
    # Issue 9's round-trip law and fail-closed hooks: on 6.100 (lowest) hypothesis draws other
    # examples, which is how a Struct datetime the schema published as any text was found.
    tests/interop/test_hint_corpus.py
    tests/unit/test_failclosed.py
    # The worker's one-pass lanes mirror pydantic's core schema in msgspec types, and bodies are
    # read with them: both libraries' versions decide what those types are and what they build.
    tests/unit/consume/test_arguments_lanes.py
    tests/unit/consume/test_envelope_reading.py
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

resolutions=("$@")
[ ${#resolutions[@]} -gt 0 ] || resolutions=(highest lowest-direct)

# The floors of pyproject.toml's dependencies, each pinned exactly: uv's lowest-direct alone took
# jsonschema 4.26 over the 4.20 floor (a test dependency's own range pulled it up), which left
# the floor untested.
floors() {
    python3 - <<'PY'
import re
import tomllib

with open("pyproject.toml", "rb") as project:
    for requirement in tomllib.load(project)["project"]["dependencies"]:
        floor = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*>=\s*([0-9][^,;\s]*)", requirement)
        if floor:
            print(f"{floor[1]}=={floor[2]}")
PY
}

one() {
    local resolution=$1 venv="$work/$1"
    local pinned=()
    if [ "$resolution" = lowest-direct ]; then
        floors >"$work/floors.txt"
        pinned=(--constraint "$work/floors.txt")
    fi
    uv venv --quiet --python "$(command -v python3)" "$venv"
    VIRTUAL_ENV="$venv" uv pip install --quiet --resolution "$resolution" "${pinned[@]}" -e ".[test]"
    echo "== $resolution: $(VIRTUAL_ENV="$venv" uv pip freeze 2>/dev/null \
        | grep -iE '^(dramatiq|pydantic|pydantic-core|msgspec|typer|jsonschema|jsonschema-rs|rfc3339-validator)==' \
        | tr '\n' ' ')"
    # The committed schemas must be what this version range generates.
    "$venv/bin/python" -m actorschema check examples.shop --out schemas/
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
}

# One pytest process per range, side by side (CI has two cores); each one's output in one piece.
pids=()
for resolution in "${resolutions[@]}"; do
    one "$resolution" >"$work/$resolution.log" 2>&1 &
    pids+=($!)
done
status=0
for index in "${!resolutions[@]}"; do
    wait "${pids[$index]}" || status=1
    cat "$work/${resolutions[$index]}.log"
done
exit $status
