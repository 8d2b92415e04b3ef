"""Paths to values inside a message, written the way a reader finds them.

A path is a tuple of segments: ``("kwargs", "customer", "tags", 3)`` reads
``kwargs.customer.tags[3]``. Keys that are not identifiers are quoted:
``kwargs.headers["content-type"]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

__all__ = ["Path", "render_path"]

Path = tuple[str | int, ...]


def render_path(path: Iterable[str | int]) -> str:
    """Render ``path`` as ``kwargs.customer.tags[3]``; the empty path is ``$``."""
    parts: list[str] = []
    for segment in path:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif segment.isidentifier():
            parts.append(f".{segment}" if parts else segment)
        else:
            parts.append(f"[{json.dumps(segment)}]")
    return "".join(parts) or "$"
