"""actorschema: a schema and size gateway in front of Dramatiq's queues.

Add :class:`PayloadGateway` to a broker and every message is checked before
it is enqueued: its arguments against the actor's type hints, its values
against strict JSON, its encoded size against the limit that applies. On the
worker, every consumed message is checked against the same contract before
its actor runs, and delivered with its declared types; a bad one is
dead-lettered with its reason (:func:`dead_letter_reasons`). The brokers in
:mod:`actorschema.brokers` also keep malformed bodies from crashing consumers.
"""

from .consume.deadletters import dead_letter_reasons
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

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ActorContract",
    "CheckFailed",
    "DeadLettered",
    "MessageMalformed",
    "NonJSONPayload",
    "PayloadGateway",
    "PayloadInvalid",
    "PayloadRejected",
    "PayloadTooLarge",
    "ResultRejected",
    "Violation",
    "__version__",
    "dead_letter_reasons",
]
