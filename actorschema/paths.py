"""Paths to values inside a message, written the way a reader finds them.

A path is a tuple of segments: ``("kwargs", "customer", "tags", 3)`` reads
``kwargs.customer.tags[3]``. Keys that are not identifiers are quoted:
``kwargs.headers["content-type"]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

__all__ = ["Path", "render_path"]

Path = tuple[Any, ...]


def render_path(path: Iterable[Any]) -> str:
    """Render ``path`` as ``kwargs.customer.tags[3]``; the empty path is ``$``.

    ``str`` segments are keys, ``int`` segments indexes; any other segment (a
    non-``str`` dict key on its way to being rejected) is shown by its repr.
    """
    parts: list[str] = []
    for segment in path:
        if type(segment) is int:
            parts.append(f"[{segment}]")
        elif type(segment) is not str:
            parts.append(f"[{segment!r}]")
        elif segment.isidentifier():
            parts.append(f".{segment}" if parts else segment)
        else:
            parts.append(f"[{json.dumps(segment)}]")
    return "".join(parts) or "$"
