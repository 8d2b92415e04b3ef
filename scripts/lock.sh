#!/usr/bin/env bash
# Regenerates constraints.txt: the exact versions the test command installs (the package, its
# test extra and uv itself), resolved for CPython 3.11 on x86_64 Linux as a fresh install
# would resolve them today. Run it to move the pins forward; commit the result with the
# schemas/ it generates (scripts/test.sh checks they are current under the pins, and under
# the newest and the oldest supported versions).
set -euo pipefail
cd "$(dirname "$0")/.."
printf 'uv\n' | uv pip compile pyproject.toml - --extra test --quiet \
    --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
    --custom-compile-command scripts/lock.sh --output-file constraints.txt
