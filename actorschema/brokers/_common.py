"""What the guarded consumers share."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["DEAD_LETTERED", "message_id_of"]

#: The outcome the log records for a body a consumer dead-letters.
DEAD_LETTERED = "dead-lettered by the consumer, not run"

_decode = msgspec.json.Decoder().decode


def message_id_of(body: bytes) -> str | None:
    """The message_id a body names, if it names one (for the log and the reason record)."""
    try:
        value: Any = _decode(body)
    except Exception:
        return None
    message_id = value.get("message_id") if isinstance(value, dict) else None
    return message_id if isinstance(message_id, str) else None
