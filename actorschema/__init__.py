"""actorschema: a schema and size gateway in front of Dramatiq's queues.

Add :class:`PayloadGateway` to a broker and every message is checked before
it is enqueued: its arguments against the actor's type hints, its values
against strict JSON, its encoded size against the limit that applies.
"""

from .contract import ActorContract
from .errors import NonJSONPayload, PayloadInvalid, PayloadRejected, PayloadTooLarge, Violation
from .gateway import PayloadGateway
from .limits import DEFAULT_MAX_MESSAGE_BYTES

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ActorContract",
    "NonJSONPayload",
    "PayloadGateway",
    "PayloadInvalid",
    "PayloadRejected",
    "PayloadTooLarge",
    "Violation",
    "__version__",
]
