"""The envelope of a consumed message: decoding it, and the fields and options Dramatiq relies on.

A worker meets messages from old deploys, other languages and hand-written
scripts. Before any of Dramatiq's own code touches one, its envelope must
hold: the seven fields of :class:`dramatiq.Message` and nothing else, each of
the type Dramatiq uses it as, a ``queue_name`` that is the queue the message
was consumed from, and options of the types Dramatiq's middleware computes
with. A wrong type there does not merely fail the message: it kills a worker
thread (``options.throws`` as text), restarts the consumer and strands the
messages fetched with it (an undecodable body, a ``queue_name`` naming another
queue), or silently loses a retry (``options.retries`` as text). The fields
follow the rules the published schema states for them, so that a producer
whose validator accepts an envelope has it accepted here: ``message_id`` is a
UUID, ``message_timestamp`` an integer, and a message in a delay queue
carries its ``options.eta``.

Options are checked only where a wrong value breaks Dramatiq, by the worker's
side of the one table in :mod:`actorschema.options`. The send side and the
JSON Schema that producers follow hold a few options tighter; the worker is
deliberately as tolerant as Dramatiq, so that every message Dramatiq itself
runs correctly still runs (a non-numeric ``eta``, for one, which Dramatiq
replaces with "now" and logs). The table says where the two differ.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import dramatiq
import msgspec
from dramatiq import Message

from .encoder import encode_json, writes_json
from .errors import CheckFailed, MessageMalformed, Violation
from .formats import UUID_PATTERN
from .options import WORKER_RULES, Side, describe, is_json_integer, option_violations
from .paths import render_path
from .strict_json import MESSAGE_FIELD_ORDER, MESSAGE_FIELDS

__all__ = [
    "BOOKKEEPING_OPTIONS",
    "CONSUMED_OPTIONS",
    "RECEIVED_SIZE",
    "STRICTLY_DECODED",
    "decode_message",
    "decode_strict_json",
    "envelope_violations",
    "options_violations",
]

#: Set on a Message that :func:`decode_message` decoded from strict JSON.
STRICTLY_DECODED = "_actorschema_strictly_decoded"

#: Set on a Message decoded from bytes: their size, less the options Dramatiq writes itself.
RECEIVED_SIZE = "_actorschema_received_size"

#: Options Dramatiq writes into a message itself: they do not count toward its size on arrival.
BOOKKEEPING_OPTIONS = frozenset(("retries", "traceback", "requeue_timestamp", "eta", "redis_message_id"))

#: How deep pipeline steps and group callbacks nested in options are checked.
_MAX_NESTED = 64

_decode_json: Callable[[bytes], Any] = msgspec.json.Decoder().decode


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _rule(test: Callable[[Any], bool], expected: str) -> tuple[Callable[[Any], bool], str]:
    return test, expected


#: The options whose wrong value breaks Dramatiq, with what they must be: the worker's side of
#: the one table in :mod:`actorschema.options`.
CONSUMED_OPTIONS = WORKER_RULES

_is_uuid = re.compile(UUID_PATTERN).search
_ETA_HINT = "options.eta: when it is due, an integer of milliseconds since the epoch"

# One rule per field, the one the published schema states (schema.py, message_schema) and
# ``actorschema validate`` applies: a producer whose validator accepts a message's envelope has
# it accepted here. The schema is per actor and says more about the fields the worker checks
# elsewhere: actor_name is the actor's (the worker looks the actor up), queue_name is its queue
# or delay queue (the worker requires the very queue it consumed from), args and kwargs have the
# actor's parameters (inbound.py).
_FIELD_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "queue_name": _rule(lambda v: type(v) is str and v != "", "a queue name"),
    "actor_name": _rule(lambda v: type(v) is str and v != "", "an actor name"),
    "args": _rule(lambda v: type(v) in (list, tuple), "an array"),
    "kwargs": _rule(lambda v: type(v) is dict, "an object"),
    "options": _rule(lambda v: type(v) is dict, "an object"),
    # Dramatiq writes str(uuid4()); the schema asks producers for a UUID, so the worker does too.
    "message_id": _rule(
        lambda v: type(v) is str and _is_uuid(v) is not None, "a new UUID, e.g. str(uuid.uuid4())"
    ),
    "message_timestamp": _rule(
        lambda v: is_json_integer(v) and v >= 0, "an integer: milliseconds since the epoch"
    ),
}


def envelope_violations(
    fields: Any,
    *,
    queue_name: str | None = None,
    prefix: tuple[Any, ...] = (),
    depth: int = 0,
    side: Side = "worker",
) -> list[Violation]:
    """What is wrong with a message's envelope, each with its path; empty when nothing is.

    Parameters:
      fields: The decoded message (a mapping of its fields).
      queue_name: The queue it was consumed from, which its ``queue_name`` must name.
      prefix: Where the message sits (for messages nested in options).
      side: Whose option rules apply: the worker's, or the send side's (stricter
        in places, see :mod:`actorschema.options`).
    """
    if side == "worker" and _plainly_valid(fields, queue_name):
        return []
    if not isinstance(fields, Mapping):
        where = render_path(prefix)
        return [
            Violation(
                where, f"is {describe(fields)}, not a message object", "a JSON object with the message fields"
            )
        ]
    found: list[Violation] = []
    for name in MESSAGE_FIELD_ORDER:
        if name not in fields:
            found.append(Violation(render_path((*prefix, name)), "is missing", _FIELD_RULES[name][1]))
    for name in fields:
        if name not in MESSAGE_FIELDS:
            problem = "is not a field of a Dramatiq message"
            found.append(
                Violation(render_path((*prefix, name)), problem, "only " + ", ".join(MESSAGE_FIELD_ORDER))
            )
    for name, (test, expected) in _FIELD_RULES.items():
        if name in fields and not test(fields[name]):
            found.append(Violation(render_path((*prefix, name)), f"is {describe(fields[name])}", expected))
    actual = fields.get("queue_name")
    if queue_name is not None and type(actual) is str and actual != queue_name:
        problem = f"names the queue {actual!r}, but the message was consumed from {queue_name!r}"
        found.append(Violation(render_path((*prefix, "queue_name")), problem, repr(queue_name)))
    options = fields.get("options")
    if type(actual) is str and actual.endswith(".DQ") and type(options) is dict and "eta" not in options:
        # The schema's rule: a message in a delay queue says when it is due (Dramatiq's own always do).
        problem = "is missing: a message in a delay queue says when it is due"
        found.append(Violation(render_path((*prefix, "options", "eta")), problem, _ETA_HINT))
    if type(options) is dict:
        found.extend(_option_violations(options, (*prefix, "options"), depth, side))
    return found


def options_violations(options: dict[str, Any], *, side: Side) -> list[Violation]:
    """What is wrong with a message's ``options``, nested messages (pipeline steps, group callbacks) included.

    Parameters:
      options: The message's options.
      side: ``"send"`` or ``"worker"``: whose rules of the table apply.
    """
    return _option_violations(options, ("options",), 0, side)


def _plainly_valid(fields: Any, queue_name: str | None) -> bool:
    """The common case proved in a few type checks; False sends the message down the full check."""
    if type(fields) is not dict or fields.keys() != MESSAGE_FIELDS:
        return False
    queue, actor, options = fields["queue_name"], fields["actor_name"], fields["options"]
    timestamp, message_id = fields["message_timestamp"], fields["message_id"]
    if not (
        type(queue) is str
        and queue
        and (queue_name is None or queue == queue_name)
        and type(actor) is str
        and actor
        and type(fields["args"]) in (list, tuple)
        and type(fields["kwargs"]) is dict
        and type(options) is dict
        and type(message_id) is str
        and _is_uuid(message_id) is not None
        and type(timestamp) is int
        and timestamp >= 0
        and ("eta" in options or not queue.endswith(".DQ"))
    ):
        return False
    for name, value in options.items():
        if name in _NESTED:
            return False
        rule = CONSUMED_OPTIONS.get(name)
        if rule is not None and not rule[0](value):
            return False
    return True


_NESTED = frozenset(("pipe_target", "group_completion_callbacks"))


def _option_violations(
    options: dict[str, Any], where: tuple[Any, ...], depth: int, side: Side
) -> list[Violation]:
    found = option_violations(options, where, side=side)
    if depth >= _MAX_NESTED:
        return found
    # Pipelines and group callbacks build Messages from these: a broken one is lost silently.
    step = options.get("pipe_target")
    if step is not None:
        found += envelope_violations(step, prefix=(*where, "pipe_target"), depth=depth + 1, side=side)
    callbacks = options.get("group_completion_callbacks")
    if callbacks is not None:
        if type(callbacks) is not list:
            path = render_path((*where, "group_completion_callbacks"))
            found.append(Violation(path, f"is {describe(callbacks)}", "an array of messages"))
        else:
            for index, callback in enumerate(callbacks):
                nested = (*where, "group_completion_callbacks", index)
                found += envelope_violations(callback, prefix=nested, depth=depth + 1, side=side)
    return found


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
    over before they become a dict.

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
    if body.count(b":") != encode_json(value).count(b":") or b"\\u003" in body:
        try:
            json.loads(body, object_pairs_hook=_unique_pairs)
        except RecursionError:
            raise ValueError("nested too deeply to decode") from None
    return value


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
        return body_size - (len(encode_json(options)) - len(encode_json(own)))
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
    try:
        fields = decode_strict_json(body) if strict else dramatiq.get_encoder().decode(body)
    except Exception as error:
        problem = f"cannot be decoded: {error}"
        raise MessageMalformed(
            "?", [Violation("$", problem, "one JSON object (UTF-8) per message")]
        ) from None
    try:
        violations = envelope_violations(fields, queue_name=queue_name)
        if not violations:
            message: Message[Any] = Message(**fields)
    except Exception as error:
        # Never hand the consumer a message the check could not judge: dead-letter it, with why.
        failed = CheckFailed.from_error(_name_in(fields), error)
        raise MessageMalformed(_name_in(fields), failed.violations) from error
    if violations:
        raise MessageMalformed(_name_in(fields), violations)
    if not strict:
        # Imported here: app_encoder reads bodies with this module's strict decoder.
        from .app_encoder import WIRE_FIELDS, encoder_kind

        if encoder_kind() == "custom-json":
            # The worker judges the JSON on the wire, not the objects the app's decode revived.
            with contextlib.suppress(ValueError):  # not strict JSON: the decoded values are judged
                object.__setattr__(message, WIRE_FIELDS, decode_strict_json(body))
    if strict:
        # msgspec refused NaN, lone surrogates and out-of-range numbers: what it decoded is
        # strict JSON, and the worker's check need not walk the values again.
        object.__setattr__(message, STRICTLY_DECODED, True)
        # The limit applies to the bytes the broker stored, not to how this process would write them.
        object.__setattr__(message, RECEIVED_SIZE, received_size(len(body), fields["options"]))
    return message


def _name_in(fields: Any) -> str:
    """The actor a decoded body names, for the log; ``"?"`` when it names none."""
    actor = fields.get("actor_name") if isinstance(fields, Mapping) else None
    return actor if type(actor) is str else "?"
