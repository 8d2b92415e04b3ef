"""actorschema: a schema and size gateway in front of Dramatiq's queues.

Add :class:`PayloadGateway` to a broker and every message is checked before
it is enqueued: its arguments against the actor's type hints, its values
against strict JSON, its encoded size against the limit that applies. On the
worker, every consumed message is checked against the same contract before
its actor runs, and delivered with its declared types; a bad one is
dead-lettered with its reason (:func:`dead_letter_reasons`). The brokers in
:mod:`actorschema.brokers` also keep malformed bodies from crashing consumers.
"""

import importlib
from typing import TYPE_CHECKING, Any

from .contract import ActorContract
from .errors import (
    CheckFailed,
    DeadLettered,
    MessageMalformed,
    NonJSONPayload,
    PayloadInvalid,
    PayloadRejected,
    PayloadTooLarge,
    ResultRejected,
    Violation,
)
from .gateway import PayloadGateway
from .limits import DEFAULT_MAX_MESSAGE_BYTES

if TYPE_CHECKING:
    from .consume.deadletters import dead_letter_reasons

__version__ = "0.1.0"

# Grouped by concept, as Dramatiq groups its own (not sorted).
__all__ = [  # noqa: RUF022
    # Gateway
    "PayloadGateway",
    # Contracts
    "ActorContract",
    # Limits
    "DEFAULT_MAX_MESSAGE_BYTES",
    # Errors
    "CheckFailed",
    "DeadLettered",
    "MessageMalformed",
    "NonJSONPayload",
    "PayloadInvalid",
    "PayloadRejected",
    "PayloadTooLarge",
    "ResultRejected",
    "Violation",
    # Workers (imported when first used: a process that only sends never loads them)
    "dead_letter_reasons",
    # Version
    "__version__",
]

#: The worker side's public names, by the module that defines them (see ``__getattr__``).
_WORKER_NAMES = {"dead_letter_reasons": "actorschema.consume.deadletters"}


def __getattr__(name: str) -> Any:
    module = _WORKER_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module(module), name)
    return value
