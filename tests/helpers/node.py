"""The Node.js oracles of tests/node (ajv 8 in strict mode, json-schema-diff, the AsyncAPI parser).

Every test that runs them must be marked ``node`` (``servers.need`` fails it otherwise).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from servers import IN_CI, need

#: ``tests/node``: the oracles' scripts and their lockfile (``npm ci --prefix tests/node``).
NODE_DIR = Path(__file__).resolve().parents[1] / "node"
AJV_CHECK = NODE_DIR / "ajv_check.mjs"


def run_ajv(payload: dict[str, Any]) -> dict[str, Any]:
    """Run tests/node/ajv_check.mjs once on ``payload``; skip without Node (fail in CI)."""
    node = need("node")
    if not (NODE_DIR / "node_modules" / "ajv").is_dir():
        message = "tests/node/node_modules is missing: npm ci --prefix tests/node"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(
        [node, str(AJV_CHECK)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result
