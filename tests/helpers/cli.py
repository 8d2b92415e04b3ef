"""The ``actorschema`` command in a fresh process, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

#: The checkout under test: its code comes first on the subprocess's path.
ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m actorschema ARGS`` in ``cwd``, with this checkout's code first on the path.

    Parameters:
      args: The command line after ``actorschema``.
      cwd: Where it runs (what it imports and writes is relative to it).
      env: Variables to set on top of this process's, which never passes on a
        ``DJANGO_SETTINGS_MODULE`` of its own.
    """
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "actorschema", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
