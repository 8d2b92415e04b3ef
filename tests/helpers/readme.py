"""The README's fenced code blocks, for the tests that run or check them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
#: A fenced block: its language and its text.
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def blocks(language: str) -> list[str]:
    """The text of every README block in ``language``, in order."""
    return [match.group(2) for match in BLOCK.finditer(README) if match.group(1) == language]
