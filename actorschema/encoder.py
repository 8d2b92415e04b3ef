"""Encoding a checked message once, and handing exactly those bytes to the broker.

Dramatiq encodes a message after every ``before_enqueue`` hook has run, by
calling ``message.encode()``, which asks the process-global encoder. The
gateway encodes the checked message itself (msgspec, when the global encoder
is Dramatiq's ``JSONEncoder``; the global encoder itself otherwise), measures
those bytes, and attaches a one-shot :class:`PreparedEncoding` to that very
message instance, shadowing its ``encode`` method. The broker's call then
returns the measured bytes without encoding again, and the attachment removes
itself. Nothing global changes: other brokers, result backends and later
encodes of the message use Dramatiq's encoder as before.

If anything changed the message after the gateway's hook (another middleware
mutating options, say), the bytes are stale: the attachment asks the gateway
to check the message again as it now stands.

msgspec writes plain JSON (UTF-8, no ``NaN``): ``json.loads`` and any other
language's parser read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import dramatiq
import msgspec
from dramatiq import Message
from dramatiq.encoder import JSONEncoder, MessageData

from .errors import NonJSONPayload
from .strict_json import find_violations, has_json_shape, has_non_finite_float, is_strict_json

__all__ = ["PreparedEncoding", "Typed", "encode_json", "encode_message", "encode_strict", "writes_json"]

#: Encodes strict JSON values; tuples (Dramatiq's own ``args``) become arrays.
encode_json: Callable[[Any], bytes] = msgspec.json.Encoder().encode

_ENCODE_ERRORS = (UnicodeEncodeError, TypeError, ValueError, OverflowError, RecursionError)


def writes_json() -> bool:
    """True when Dramatiq's global encoder is its JSON one, so msgspec's bytes can be stored as they are."""
    return type(dramatiq.get_encoder()) is JSONEncoder


def encode_message(data: MessageData) -> bytes:
    """The bytes the broker will store for ``data``: msgspec JSON, or the custom global encoder's."""
    return encode_json(data) if writes_json() else dramatiq.get_encoder().encode(data)


class Typed(Protocol):
    """What :func:`encode_strict` needs of an actor's contract (:class:`~actorschema.contract.ActorContract`)."""

    def untyped(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The ``kwargs`` entries no type hint converted: only they can hold what is not JSON."""
        ...


def encode_strict(actor_name: str, data: MessageData, contract: Typed | None = None) -> bytes:
    """The bytes the broker will store for a message, once its users' values are proven strict JSON.

    Encodes once and proves strictness on the way where it can (msgspec, with
    Dramatiq's JSON encoder); otherwise, or when unsure, walks the values
    with :func:`~actorschema.strict_json.find_violations` for the verdict.

    Parameters:
      actor_name: The message's actor, named in the rejection.
      data: The message's fields (``args``, ``kwargs`` and ``options`` among them).
      contract: The actor's contract, whose typed values need no shape walk; None for none.

    Raises:
      NonJSONPayload: With every value that is not strict JSON, by path.
    """
    args, kwargs, options = data["args"], data["kwargs"], data["options"]
    values = (list(args), kwargs, options) if args else (kwargs, options)
    if writes_json():
        # Typed values are pydantic's JSON output, of JSON shape by construction:
        # only what passed through untouched needs the shape walk.
        untyped = kwargs if contract is None else contract.untyped(kwargs)
        # Built without a comprehension: a plain send() has nothing here, on every send.
        shaped = []
        if options:
            shaped.append(options)
        if untyped:
            shaped.append(untyped)
        if args:
            shaped.append(list(args))
        body = _encode_if_certain(data, shaped, values)
        if body is not None:
            return body
    elif all(map(is_strict_json, values)):
        return encode_message(data)
    violations = [
        *find_violations(list(args), ("args",)),
        *find_violations(kwargs, ("kwargs",)),
        *find_violations(options, ("options",)),
    ]
    if violations:
        raise NonJSONPayload(actor_name, violations)
    # Unsure only because of Dramatiq's own structures (a pipeline's nested args tuples).
    return encode_message(data)


def _encode_if_certain(data: MessageData, unshaped: Sequence[Any], values: Sequence[Any]) -> bytes | None:
    """Encode ``data`` with msgspec if ``values`` (the parts of it users sent) are certainly strict JSON.

    Returns None when not certain: :func:`encode_strict` then asks
    :func:`~actorschema.strict_json.find_violations` for the verdict. The
    shape walk proves exact types, ``str`` keys and depth for ``unshaped``
    (the values not already known to be of JSON shape); the encoding itself,
    needed anyway, proves the rest: msgspec raises on a lone surrogate or a
    type it does not know, and writes ``NaN`` and infinities as ``null``, so a
    body without ``null`` holds none (with one, the floats of ``values`` are
    checked).
    """
    if unshaped and not all(map(has_json_shape, unshaped)):
        return None
    try:
        body = encode_json(data)
    except _ENCODE_ERRORS:
        return None
    if b"null" in body and not _surely_finite(values) and any(map(has_non_finite_float, values)):
        return None
    return body


#: Writes every float as the byte 0xcb and its IEEE 754 binary64 bits, big-endian (msgspec never writes float32).
_encode_msgpack: Callable[[Any], bytes] = msgspec.msgpack.Encoder().encode
#: Where a packed non-finite float may start (one regex pass beats two ``in`` searches here).
_NON_FINITE_START = re.compile(rb"\xcb[\x7f\xff]")


def _surely_finite(values: Sequence[Any]) -> bool:
    """True when no float in ``values`` is ``NaN`` or infinite, proven in C; False when unsure.

    A body with ``null`` in it may hold a ``NaN`` msgspec's JSON encoder wrote as
    ``null``, or only ``None`` values: walking the values in Python to tell which
    costs more than the encoding (50 µs on a 5 KB model). In msgpack a non-finite
    float is ``0xcb`` followed by ``0x7ff`` or ``0xfff`` (all exponent bits set), so
    packed values that hold neither ``cb 7f`` nor ``cb ff`` anywhere hold none. A
    finite float that starts so (of magnitude 5e303 or more), or an integer or a float whose bytes
    happen to make the pair, only sends the caller to the walk.
    """
    try:
        packed = _encode_msgpack(values)
    except _ENCODE_ERRORS:
        return False
    return _NON_FINITE_START.search(packed) is None


class PreparedEncoding:
    """Stands in for one message's ``encode()`` until the broker calls it, once.

    Parameters:
      message: The checked message; this object is attached to it as ``encode``.
      body: The bytes that were measured.
      recheck: Checks and encodes ``message`` again if it changed since; called
        as ``recheck(message, *context)``.
      context: What ``recheck`` needs besides the message (a tuple is cheaper
        to build on every send than a closure).
    """

    __slots__ = ("args", "body", "context", "kwargs", "message", "options_snapshot", "queue_name", "recheck")

    def __init__(
        self,
        message: Message[Any],
        body: bytes,
        recheck: Callable[..., bytes],
        context: tuple[Any, ...] = (),
    ) -> None:
        self.message = message
        self.args = message.args
        self.kwargs = message.kwargs
        self.queue_name = message.queue_name
        # A shallow copy notices options another middleware sets after the gateway's hook.
        self.options_snapshot = {**message.options}
        self.body = body
        self.recheck = recheck
        self.context = context

    def attach(self) -> None:
        """Shadow ``message.encode`` (an instance attribute beats the class's method)."""
        vars(self.message)["encode"] = self

    def __call__(self) -> bytes:
        message = self.message
        vars(message).pop("encode", None)  # one use: later encodes are Dramatiq's own again
        try:
            unchanged = (
                message.args is self.args
                and message.kwargs is self.kwargs
                and message.queue_name == self.queue_name
                and message.options == self.options_snapshot
            )
        except Exception:  # an option whose __eq__ raises: check the message again, never skip it
            unchanged = False
        if unchanged:
            return self.body
        return self.recheck(message, *self.context)
