"""Decoding a consumed message: strict JSON, then an envelope Dramatiq can run.

A worker meets messages from old deploys, other languages and hand-written
scripts. Before any of Dramatiq's own code touches one, its body must decode
as strict JSON and its envelope must hold, by the rules of
:mod:`actorschema.message` (:func:`~actorschema.message.envelope_violations`):
the seven fields of :class:`dramatiq.Message`, each of the type Dramatiq uses
it as, a ``queue_name`` that is the queue the message was consumed from, and
options of the types Dramatiq's middleware computes with. A wrong type there
does not merely fail the message: it kills a worker thread, restarts the
consumer and strands the messages fetched with it (an undecodable body, a
``queue_name`` naming another queue), or silently loses a retry.

The guarded brokers (:mod:`actorschema.brokers`) decode with
:func:`decode_message`, which marks the message as strictly decoded with the
length of the body it arrived in, so the guard neither walks its values nor
encodes it again: that length bounds the size that counts (:func:`received_size`),
worked out only for a body over its limit.

Where the worker's check has judged an actor once, it leaves the types its
wire lanes read with (:func:`read_arguments_with`): the next bodies for that
actor are decoded with them, so the values are judged as they are read, in the
same pass (:data:`ARGUMENTS_READ_BY` says by whose lanes). That reading is only
ever a shortcut: whenever it refuses a body, or might have built anything else
than the plain decoding, the body is decoded plainly.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NotRequired, TypedDict

import dramatiq
import msgspec
from dramatiq import Message

from .._dramatiq import message_from
from ..app_encoder import WIRE_FIELDS, encoder_kind
from ..encoder import encode_json, writes_json
from ..errors import CheckFailed, MessageMalformed, Violation
from ..message import BOOKKEEPING_OPTIONS, MESSAGE_FIELD_ORDER, envelope_violations

__all__ = [
    "ARGUMENTS_READ_BY",
    "STRICTLY_DECODED",
    "decode_message",
    "decode_strict_json",
    "read_arguments_with",
    "received_size",
]

#: Set on a Message that :func:`decode_message` decoded from strict JSON: the length of the body.
STRICTLY_DECODED = "_actorschema_strict_body_size"
#: Set on a Message whose ``kwargs`` were decoded with an actor's argument types
#: (:func:`read_arguments_with`): the owner those types were left by.
ARGUMENTS_READ_BY = "_actorschema_arguments_read_by"

_decode_json: Callable[[bytes], Any] = msgspec.json.Decoder().decode


def decode_strict_json(body: bytes) -> Any:
    """Decode ``body`` as strict JSON: the one decoder of the worker and of ``actorschema validate``.

    Strict means UTF-8, one value and nothing after it, no ``NaN`` or
    ``Infinity``, no number out of a double's range (``1e400``), no lone
    surrogate (``"\\ud800"``), and no object with the same key twice: parsers
    in other languages disagree on which of the two values wins (Python's and
    msgspec's take the last, so a duplicate ``actor_name`` would run another
    actor than a validator in another language saw).

    msgspec decodes, and does not see duplicates; counting proves their
    absence at C speed. Every member of an object in the body is written
    with one ``:`` outside strings, so the body's colons are its members plus
    those inside its strings. msgspec's re-encoding of the decoded value
    writes the same strings (it never escapes ``:``) and one colon per member
    that survived. A duplicate drops a member (and the strings of the value
    it held), so the counts differ exactly when a key was duplicated, unless
    the body spells a colon as ``\\u003a`` in a string: those few bodies go
    through Python's C parser once more, which hands every object's pairs
    over before they become a dict. A body that re-encodes to exactly
    itself (msgspec wrote it, as the gateway does) needs no count: the
    re-encoding holds no duplicate, so neither does the body.

    Parameters:
      body: The bytes as received.

    Raises:
      ValueError: With the reason, in one line.
    """
    try:
        value = _decode_json(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        reason = str(error)
        if reason == "Input data was truncated" and _SURROGATE_ESCAPE.search(body):
            # msgspec's words for a high surrogate with no low one after it.
            reason = (
                "a lone UTF-16 surrogate escape (\\ud800-\\udfff) is not text: send the character, or a pair"
            )
        raise ValueError(reason) from None
    except RecursionError:
        raise ValueError("nested too deeply to decode") from None
    if not _as_many_members(body, value):
        try:
            json.loads(body, object_pairs_hook=_unique_pairs)
        except RecursionError:
            raise ValueError("nested too deeply to decode") from None
    return value


def _as_many_members(body: bytes, value: Any) -> bool:
    """True when ``value`` provably holds every member of every object in ``body``: no key lost.

    See :func:`decode_strict_json`: the re-encoding of a value that lost a
    member (a duplicate key, or a key a typed reading passed over) holds fewer
    colons than the body, unless the body escapes a colon; False decides
    nothing.
    """
    again = encode_json(value)
    # A body msgspec itself wrote (the gateway's producers) re-encodes to the very same bytes,
    # which hold no duplicate and no escaped colon: one comparison instead of two counts.
    # Looking for a backslash first costs a memchr: most bodies have none, and no "\u003a".
    return again == body or (
        body.count(b":") == again.count(b":") and not (b"\\" in body and b"\\u003" in body)
    )


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise ValueError(
            f"duplicate key {duplicate!r} in an object: parsers disagree on which value wins; "
            "send each key once"
        )
    return value


class _Reader:
    """How to read the bodies of one actor with its argument types, and who left them."""

    __slots__ = ("decode", "owner")

    def __init__(self, decode: Callable[[bytes], Any], owner: object) -> None:
        self.decode = decode
        self.owner = owner


#: Per actor name, the reader its worker-side check left last (one per process: a cache, never
#: a verdict; a body read by another owner's types is judged as if read plainly).
_readers: dict[str, _Reader] = {}

#: The actor a body is for, where it begins as Dramatiq and the gateway write every message:
#: ``{"queue_name": "...", "actor_name": "...", ...}``. Any other body is read plainly.
_HEAD = re.compile(rb'\{\s*"queue_name"\s*:\s*"[^"\\]*"\s*,\s*"actor_name"\s*:\s*"([^"\\]+)"')


def read_arguments_with(actor_name: str, owner: object, types: Mapping[str, Any]) -> None:
    """Decode the next bodies for ``actor_name`` with these argument types, marking them read by ``owner``.

    The worker's check calls it once per actor it judges
    (:class:`~actorschema.consume.guard.ConsumeGuard`): each type is a wire lane's
    mirror (:class:`~actorschema.consume.arguments.WireLane`), which builds the
    very value plain decoding builds and refuses what the lane refuses, or
    ``Any``. The message's ``kwargs`` are then what plain decoding gives, and
    :data:`ARGUMENTS_READ_BY` tells the check that each typed value passed its
    mirror as it was read.

    Parameters:
      actor_name: The actor whose bodies to read so.
      owner: Who judges them (the check compares it with its own, by identity).
      types: Per keyword argument, its type; every keyword the actor takes. Empty: read plainly.
    """
    if not types:
        _readers.pop(actor_name, None)
        return
    kwargs = TypedDict("Kwargs", {name: NotRequired[kind] for name, kind in types.items()})  # type: ignore[misc]
    # Every field required: a body without one is read plainly, and the envelope check words it.
    fields: dict[str, Any] = {name: Any for name in MESSAGE_FIELD_ORDER}
    envelope = TypedDict("Envelope", {**fields, "kwargs": kwargs})  # type: ignore[misc]
    _readers[actor_name] = _Reader(msgspec.json.Decoder(envelope).decode, owner)


def _read_with_types(body: bytes) -> tuple[Any, object] | None:
    """The body decoded with its actor's argument types, and their owner; None: read it plainly.

    None when no types were left for the actor it names, when they refuse it
    (not strict JSON, a value its mirror refuses), or when their reading may
    have dropped a member (a key they pass over, a duplicate key): plain
    decoding then reads it and words what is wrong.
    """
    if not _readers:  # no actor with a wire lane judged yet: nothing to look for
        return None
    head = _HEAD.match(body)
    reader = _readers.get(head.group(1).decode("utf-8", "replace")) if head is not None else None
    if reader is None:
        return None
    try:
        value = reader.decode(body)
        return (value, reader.owner) if _as_many_members(body, value) else None
    except Exception:  # whatever it is (msgspec 0.18 lets UnicodeDecodeError out), plain decoding words it
        return None


def received_size(body_size: int, options: Any) -> int:
    """The size a message counts on arrival: its bytes, less the options Dramatiq wrote into it itself.

    Parameters:
      body_size: The length of the bytes received.
      options: The options decoded from them.
    """
    if type(options) is not dict or BOOKKEEPING_OPTIONS.isdisjoint(options):
        return body_size
    own = {k: v for k, v in options.items() if k not in BOOKKEEPING_OPTIONS}
    try:
        # Without options of its own the message counts its options as "{}" (two bytes).
        own_size = len(encode_json(own)) if own else 2
        return body_size - (len(encode_json(options)) - own_size)
    except Exception:
        return body_size  # not encodable as decoded (a custom encoder's objects): count it all


def decode_message(body: bytes, queue_name: str) -> Message[Any]:
    """Decode a consumed body into a Message whose envelope holds, or raise MessageMalformed.

    With Dramatiq's JSON encoder the body must be strict JSON (UTF-8, no
    ``NaN``, nothing after the object); a custom global encoder decodes it
    its own way, and the envelope is checked all the same.

    Parameters:
      body: The bytes as the broker delivered them.
      queue_name: The queue they were consumed from.
    """
    strict = writes_json()
    typed = _read_with_types(body) if strict else None
    marks: dict[str, Any] = {STRICTLY_DECODED: len(body)}
    try:
        if typed is not None:
            fields, marks[ARGUMENTS_READ_BY] = typed
        else:
            fields = decode_strict_json(body) if strict else dramatiq.get_encoder().decode(body)
    except Exception as error:
        problem = f"cannot be decoded: {error}"
        raise MessageMalformed(
            "?", [Violation("$", problem, "one JSON object (UTF-8) per message")]
        ) from None
    try:
        violations = envelope_violations(fields, queue_name=queue_name)
        if not violations:
            # Strict: msgspec refused NaN, lone surrogates and out-of-range numbers, so what it
            # decoded is strict JSON and the worker's check need not walk the values again. The
            # limit applies to the bytes the broker stored, not to how this process writes them.
            message: Message[Any] = message_from(fields, marks) if strict else Message(**fields)
    except Exception as error:
        # Never hand the consumer a message the check could not judge: dead-letter it, with why.
        failed = CheckFailed.from_error(_name_in(fields), error)
        raise MessageMalformed(_name_in(fields), failed.violations) from error
    if violations:
        raise MessageMalformed(_name_in(fields), violations)
    if not strict and encoder_kind() == "custom-json":
        # The worker judges the JSON on the wire, not the objects the app's decode() revived.
        with contextlib.suppress(ValueError):  # not strict JSON: the decoded values are judged
            object.__setattr__(message, WIRE_FIELDS, decode_strict_json(body))
    return message


def _name_in(fields: Any) -> str:
    """The actor a decoded body names, for the log; ``"?"`` when it names none."""
    actor = fields.get("actor_name") if isinstance(fields, Mapping) else None
    return actor if type(actor) is str else "?"
