"""Stand-in for Dramatiq's ``tests/common.py``, which its sdist does not ship.

Copied to ``common.py`` next to the extracted test files; only the helpers the StubBroker
test files import.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from dramatiq import Worker


@contextmanager
def worker(*args: Any, **kwargs: Any) -> Iterator[Worker]:
    started = Worker(*args, **kwargs)
    try:
        started.start()
        yield started
    finally:
        started.stop()


skip_in_ci = pytest.mark.skipif(os.getenv("GITHUB_ACTION") is not None, reason="test skipped in CI")
skip_on_windows = pytest.mark.skipif(platform.system() == "Windows", reason="test skipped on Windows")
skip_on_pypy = pytest.mark.skipif(
    platform.python_implementation() == "PyPy", reason="Time limits are not supported under PyPy."
)
