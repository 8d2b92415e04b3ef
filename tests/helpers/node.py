"""The Node.js oracles of tests/node (ajv 8 in strict mode, json-schema-diff, the AsyncAPI parser).

Every test that runs them must be marked ``node`` (``servers.need`` fails it otherwise).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from servers import IN_CI, need

#: ``tests/node``: the oracles' scripts and their lockfile (``npm ci --prefix tests/node``).
NODE_DIR = Path(__file__).resolve().parents[1] / "node"
AJV_CHECK = NODE_DIR / "ajv_check.mjs"


def run_oracle(
    script: Path, payload: Any, *, package: str = "ajv", args: Sequence[str] = (), timeout: float = 120
) -> Any:
    """Run one Node oracle on ``payload`` (JSON on its stdin) and return the JSON it prints.

    Skips without Node or tests/node's packages (fails in CI instead), and
    fails when the script exits non-zero.

    Parameters:
      script: The oracle (``tests/node/*.mjs``, or a test's own script).
      payload: What it reads.
      package: A package of tests/node it needs (its folder under ``node_modules``).
      args: Its command-line arguments.
      timeout: Seconds before the run counts as hung.
    """
    node = need("node")
    if not (NODE_DIR / "node_modules" / package).is_dir():
        message = "tests/node/node_modules is missing: npm ci --prefix tests/node"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(
        [node, str(script), *args],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def run_ajv(payload: dict[str, Any]) -> dict[str, Any]:
    """Run tests/node/ajv_check.mjs once on ``payload``: ajv 8 in strict mode, with ajv-formats."""
    result: dict[str, Any] = run_oracle(AJV_CHECK, payload)
    return result
