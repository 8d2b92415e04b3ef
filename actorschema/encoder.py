"""The message encoder: one msgspec encoding per send, measured and then stored.

Dramatiq encodes a message after every ``before_enqueue`` hook has run, with
one process-global encoder. The gateway encodes the checked message itself,
measures those bytes, and leaves them here; when the broker then calls
``message.encode()``, :class:`GatewayEncoder` hands back exactly those bytes,
so the size that was checked is the size that is stored and nothing is
encoded twice.

If anything changed the message after the gateway's hook (another
middleware mutating options, say), the prepared bytes are stale: the encoder
asks the gateway to check the message again as it now stands and encodes
that. Data the gateway never prepared (messages of brokers without the
gateway, result backends) goes to the encoder that was installed before,
Dramatiq's ``JSONEncoder`` by default, so nothing else changes behaviour.

msgspec writes plain JSON (UTF-8, no ``NaN``): ``json.loads`` and any other
language's parser read it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import dramatiq
import msgspec
from dramatiq.encoder import Encoder, JSONEncoder, MessageData

from .strict_json import has_json_shape, has_non_finite_float

__all__ = ["GatewayEncoder", "PreparedMessage", "encode_json", "encode_strict", "install_encoder"]

#: Encodes strict JSON values; tuples (Dramatiq's own ``args``) become arrays.
encode_json: Callable[[Any], bytes] = msgspec.json.Encoder().encode

_ENCODE_ERRORS = (UnicodeEncodeError, TypeError, ValueError, OverflowError, RecursionError)


def encode_strict(data: MessageData, unshaped: tuple[Any, ...], values: tuple[Any, ...]) -> bytes | None:
    """Encode ``data`` if ``values`` (the parts of it users sent) are certainly strict JSON.

    Returns None when not certain: the caller then asks
    :func:`~actorschema.strict_json.find_violations` for the verdict. The
    shape walk proves exact types, ``str`` keys and depth for ``unshaped``
    (the values not already known to be of JSON shape); the encoding itself,
    needed anyway, proves the rest: msgspec raises on a lone surrogate or a
    type it does not know, and writes ``NaN`` and infinities as ``null``, so a
    body without ``null`` holds none (with one, the floats of ``values`` are
    checked).
    """
    if not all(map(has_json_shape, unshaped)):
        return None
    try:
        body = encode_json(data)
    except _ENCODE_ERRORS:
        return None
    if b"null" in body and any(map(has_non_finite_float, values)):
        return None
    return body


class PreparedMessage:
    """A message the gateway checked and encoded, waiting for the broker's ``encode()``.

    Parameters:
      data: The message fields as checked (the objects, not copies).
      body: The encoded bytes.
      recheck: Checks and encodes the message again if it changed since.
    """

    __slots__ = ("body", "data", "options_snapshot", "recheck")

    def __init__(self, data: dict[str, Any], body: bytes, recheck: Callable[[MessageData], bytes]) -> None:
        self.data = data
        # A shallow copy notices options another middleware sets after the gateway's hook.
        self.options_snapshot = dict(data["options"])
        self.body = body
        self.recheck = recheck

    def matches(self, data: MessageData) -> bool:
        mine = self.data
        return (
            data["args"] is mine["args"]
            and data["kwargs"] is mine["kwargs"]
            and data["options"] is mine["options"]
            and data["queue_name"] == mine["queue_name"]
            and data["actor_name"] == mine["actor_name"]
            and data["message_timestamp"] == mine["message_timestamp"]
            and data["options"] == self.options_snapshot
        )


class GatewayEncoder(Encoder):
    """Dramatiq encoder that stores the bytes the gateway measured.

    Parameters:
      fallback: The encoder for everything the gateway did not prepare, and
        for decoding. Defaults to Dramatiq's ``JSONEncoder``.
    """

    def __init__(self, fallback: Encoder | None = None) -> None:
        self.fallback = fallback or JSONEncoder()
        #: True when the wire format is Dramatiq's JSON, so msgspec's bytes can be stored as they
        #: are; otherwise the gateway measures (once) what ``fallback`` writes.
        self.measures_own_bytes = type(self.fallback) is JSONEncoder
        self._local = threading.local()

    def prepare(self, prepared: PreparedMessage) -> None:
        """Leave ``prepared`` for this thread's next ``encode()`` of the same message."""
        self._local.prepared = prepared

    def encode(self, data: MessageData) -> bytes:
        prepared: PreparedMessage | None = getattr(self._local, "prepared", None)
        if (
            prepared is not None
            and type(data) is dict
            and data.get("message_id") == prepared.data["message_id"]
        ):
            self._local.prepared = None
            if prepared.matches(data):
                return prepared.body
            return prepared.recheck(data)
        return self.fallback.encode(data)

    def decode(self, data: bytes) -> MessageData:
        return self.fallback.decode(data)


def install_encoder() -> GatewayEncoder:
    """Make a :class:`GatewayEncoder` Dramatiq's global encoder, wrapping the current one."""
    current = dramatiq.get_encoder()
    if isinstance(current, GatewayEncoder):
        return current
    encoder = GatewayEncoder(current)
    dramatiq.set_encoder(encoder)
    return encoder
