"""Every size decision: which limit applies to a message, whether it is too large, what made it large.

Three levels, most specific first: the actor's ``max_message_bytes`` option,
the queue's entry in ``queue_limits``, the gateway's global limit. ``None``
at a level that is set means "no limit". The send side and the worker side
both measure against :func:`resolve_limit` and refuse with :func:`too_large`;
a retry that only Dramatiq's traceback pushes over its limit is trimmed to
fit (:func:`trim_traceback`) rather than lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dramatiq.common import q_name

from .encoder import encode_json
from .errors import PayloadTooLarge
from .message import TRACEBACK
from .paths import Path, render_path

__all__ = [
    "ACTOR_OPTION",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "SizeLimit",
    "check_limit",
    "largest_paths",
    "resolve_limit",
    "too_large",
    "trim_traceback",
]

#: The actor option users set: ``@dramatiq.actor(max_message_bytes=4096)``.
ACTOR_OPTION = "max_message_bytes"

#: 256 KiB: the smallest limit among common brokers and transports (Azure
#: Service Bus Standard; the SQS Extended Client offloads anything larger to
#: S3), so a message under it can move to any of them unchanged.
DEFAULT_MAX_MESSAGE_BYTES = 262_144

#: How much of a traceback is kept when it alone pushes a retried message over its limit.
_TRACEBACK_MARK = "[actorschema: traceback trimmed to fit the message size limit]\n...\n"


@dataclass(frozen=True)
class SizeLimit:
    """The limit that applies to one message.

    Parameters:
      limit: The limit in bytes, or None for no limit.
      source: Where it came from: ``"actor"``, ``"queue"`` or ``"global"``.
    """

    limit: int | None
    source: str


def resolve_limit(
    actor_options: Mapping[str, Any],
    queue_name: str,
    queue_limits: Mapping[str, int | None],
    global_limit: int | None,
) -> SizeLimit:
    """Return the limit for a message: actor, then queue, then global."""
    if ACTOR_OPTION in actor_options:
        return SizeLimit(actor_options[ACTOR_OPTION], "actor")
    queue = q_name(queue_name)
    if queue in queue_limits:
        return SizeLimit(queue_limits[queue], "queue")
    return SizeLimit(global_limit, "global")


def check_limit(where: str, value: object) -> None:
    """Refuse a limit setting that is not a positive int or None (``where``: what it limits)."""
    if value is not None and (type(value) is not int or value <= 0):
        raise ValueError(f"size limit for {where!r} must be a positive int or None, not {value!r}")


def too_large(
    actor_name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: dict[str, Any],
    size: int,
    limit: SizeLimit,
) -> PayloadTooLarge:
    """The rejection of a message of ``size`` bytes over ``limit``, naming the values that make it large.

    Parameters:
      actor_name: The message's actor.
      args: Its positional values.
      kwargs: Its keyword values.
      options: Its options (without those Dramatiq writes itself, on the worker side).
      size: Its encoded size in bytes.
      limit: The limit it exceeds (not None).
    """
    assert limit.limit is not None
    pieces = {"args": list(args), "kwargs": kwargs, "options": options}
    largest = largest_paths(pieces, lambda value: len(encode_json(value)))
    return PayloadTooLarge(actor_name, size, limit.limit, limit.source, largest)


def trim_traceback(options: dict[str, Any], excess: int) -> bool:
    """Shorten ``options["traceback"]`` by at least ``excess`` encoded bytes, keeping its end.

    Returns False when there is no traceback to trim.
    """
    text = options.get(TRACEBACK)
    if not isinstance(text, str):
        return False
    budget = len(encode_json(text)) - excess
    keep = len(text)
    while keep > 0:
        candidate = _TRACEBACK_MARK + text[-keep:]
        over = len(encode_json(candidate)) - budget
        if over <= 0:
            options[TRACEBACK] = candidate
            return True
        # Every character encodes to at least one byte: cutting ``over`` of them is enough or close.
        keep -= over
    options[TRACEBACK] = _TRACEBACK_MARK.rstrip()
    return True


def largest_paths(
    pieces: Mapping[str, Any], measure: Callable[[Any], int], *, top: int = 3
) -> list[tuple[str, int]]:
    """Name the values that make a message large, with their encoded sizes.

    Lists the ``top`` largest top-level values of ``pieces`` (``args``,
    ``kwargs`` entries, options) that are over a tenth of the largest, then drills into the largest one while a
    single child holds most of it, so a 5 MB blob deep in a model is named
    by its own path.

    Parameters:
      pieces: ``{"args": [...], "kwargs": {...}, "options": {...}}``.
      measure: Returns the encoded size of a value in bytes.
      top: How many top-level values to list.
    """
    sized: list[tuple[int, Path, Any]] = []
    for root, value in pieces.items():
        for key, child in _children(value):
            sized.append((measure(child), (root, key), child))
    sized.sort(key=lambda item: item[0], reverse=True)
    # Values a tenth the size of the largest or less explain nothing.
    floor = sized[0][0] / 10 if sized else 0
    result = [
        (render_path(path), size) for size, path, _ in sized[:top] if size > floor or path == sized[0][1]
    ]
    if sized:
        size, path, value = sized[0]
        while True:
            children = [(measure(child), (*path, key), child) for key, child in _children(value)]
            if not children:
                break
            biggest = max(children, key=lambda item: item[0])
            if biggest[0] * 2 < size:
                break
            size, path, value = biggest
            result.append((render_path(path), size))
    return result


def _children(value: Any) -> list[tuple[str | int, Any]]:
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return list(enumerate(value))
    return []
