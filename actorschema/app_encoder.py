"""What the gateway does with the app's own Dramatiq encoder (``dramatiq.set_encoder``).

Apps that adopt actorschema on a live system often have their own encoder:
a JSON one whose ``decode`` revives objects (datetimes, UUIDs, dataclasses,
pydantic models, often tagged as ``{"__datetime__": ...}``), or
``PickleEncoder``. Their queues hold what that encoder wrote, and Dramatiq's
consumers decode every body with it before any middleware runs, so the worker
side meets the revived objects, not the JSON.

The worker judges **the JSON on the wire** whatever the encoder: the JSON
values the body holds (read from the bytes by the drop-in brokers, otherwise
written again with the app's encoder, which gives back what it read). A
message whose JSON fits the contract is delivered typed from that JSON. One
that does not may be in the encoder's own form, written by a producer that
does not run actorschema yet (a tagged datetime where the contract says RFC
3339 text): its values, as the app's encoder decodes them, are then put in
their contract's JSON form exactly as an upgraded producer would send them,
and that JSON is judged. So every message an upgraded producer could have sent
runs, typed; the rest is refused, with the violations of whichever reading
came closer.

With an encoder that does not write JSON (``PickleEncoder``) there is no JSON
on the wire: the decoded values are put in their contract's JSON form and
judged, the same second reading. What that supports, and what it cannot, is
in :func:`describe`, which the gateway logs once at worker boot and when the
first actor is declared.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Literal

import dramatiq
import msgspec
import pydantic_core
from dramatiq import Message
from dramatiq.encoder import JSONEncoder

from .log import logger

if TYPE_CHECKING:
    from .contract import ActorContract

__all__ = [
    "WIRE_FIELDS",
    "EncoderKind",
    "announce",
    "describe",
    "encoder_kind",
    "json_form",
    "raw_from",
    "wire_fields",
]


#: Set on a Message a drop-in consumer decoded with a custom encoder: the body's fields as strict JSON.
WIRE_FIELDS = "_actorschema_wire"

#: ``"json"``: Dramatiq's JSONEncoder; ``"custom-json"``: another encoder that writes JSON;
#: ``"opaque"``: an encoder whose bytes are not JSON (``PickleEncoder``, msgpack...).
EncoderKind = Literal["json", "custom-json", "opaque"]

# A message of plain JSON values: an encoder that writes JSON writes this as JSON.
_PROBE: dict[str, Any] = {
    "queue_name": "default",
    "actor_name": "probe",
    "args": [1, "text"],
    "kwargs": {"n": 1.5, "flag": True, "none": None, "items": [{"k": "v"}]},
    "options": {},
    "message_id": "00000000-0000-4000-8000-000000000000",
    "message_timestamp": 0,
}

_decode_json = msgspec.json.Decoder().decode

_lock = threading.Lock()
# The last encoder classified, and its kind: the global encoder rarely changes.
_classified: tuple[Any, EncoderKind] | None = None
# (gateway id, encoder id) pairs already announced: one line per gateway and encoder.
_announced: set[tuple[int, int]] = set()


def encoder_kind(encoder: Any = None) -> EncoderKind:
    """Classify ``encoder`` (by default Dramatiq's global one) by what it writes.

    An encoder is taken to write JSON when what it writes for a message of plain
    JSON values is strict JSON with the same values.

    Parameters:
      encoder: The encoder to classify; None for ``dramatiq.get_encoder()``.
    """
    global _classified
    encoder = dramatiq.get_encoder() if encoder is None else encoder
    if type(encoder) is JSONEncoder:
        return "json"
    known = _classified
    if known is not None and known[0] is encoder:
        return known[1]
    kind: EncoderKind
    try:
        kind = "custom-json" if _decode_json(encoder.encode(_PROBE)) == _PROBE else "opaque"
    except Exception:
        kind = "opaque"
    with _lock:
        _classified = (encoder, kind)
    return kind


def wire_fields(message: Message[Any], *, fresh: bool = False) -> dict[str, Any] | None:
    """The fields of ``message`` as the JSON on the wire holds them; None when the encoder writes no JSON.

    The drop-in consumers keep what they read from the bytes; otherwise the
    message is written again with the app's encoder (a JSON encoder writes back
    what it read) and that is read as strict JSON.

    Parameters:
      message: A message the app's encoder decoded.
      fresh: Write it again even if the bytes were kept (a middleware changed it since).
    """
    kept = None if fresh else getattr(message, WIRE_FIELDS, None)
    if kept is not None:
        return kept  # type: ignore[no-any-return]
    if encoder_kind() != "custom-json":
        return None
    # Only a worker asks (the worker side reads with its one strict decoder): a producer never loads it.
    from .consume.envelope import decode_strict_json

    try:
        fields = decode_strict_json(dramatiq.get_encoder().encode(message.asdict()))
    except Exception:
        return None  # not JSON after all (this message): the decoded values are judged instead
    return fields if isinstance(fields, dict) else None


def describe(encoder: Any = None) -> str | None:
    """The start-up line: what the gateway does with ``encoder``; None for Dramatiq's JSONEncoder."""
    encoder = dramatiq.get_encoder() if encoder is None else encoder
    kind = encoder_kind(encoder)
    name = f"{type(encoder).__module__}.{type(encoder).__qualname__}"
    if kind == "json":
        return None
    if kind == "custom-json":
        return (
            f"Dramatiq's global encoder is {name}, which writes JSON. Sends: each message is checked, "
            "its typed values put in their contract's JSON form, and written with your encoder; size "
            "limits count what it writes. Worker: each message is judged by the JSON on the wire, not "
            "by the objects your decode() revives; a message in your encoder's own form (from a "
            "producer without actorschema: a tagged datetime, a dataclass) is accepted when the values "
            "your decode() gives fit the contract as an upgraded producer would send them. Actors "
            "receive their declared types; a parameter without one (Any, dict, unannotated) is judged "
            "by its JSON on the wire and receives what your decode() gives, as before."
        )
    return (
        f"Dramatiq's global encoder is {name}, which does not write JSON. Supported: sends are checked "
        "and their typed values put in their contract's JSON form before your encoder writes them "
        "(size limits count its bytes); the worker puts the values your encoder decodes in their "
        "contract's JSON form and judges that, so messages from producers without actorschema run, "
        "typed (a parameter without a type is judged by its JSON form and receives what your encoder "
        "decodes). Not supported: the published JSON Schemas, `actorschema validate` and producers in "
        "other languages (the queues do not hold JSON); and no check can run before your encoder "
        "decodes a body (PickleEncoder runs code from the queue: trust only queues you control). "
        "To move to JSON, see the README's 'Existing encoders'."
    )


def announce(gateway: object, where: str) -> None:
    """Log :func:`describe`'s line once per gateway and encoder (INFO for JSON, WARNING otherwise).

    Parameters:
      gateway: The gateway announcing (each gateway says it once).
      where: When it is said, for the log ("worker boot", "declare").
    """
    encoder = dramatiq.get_encoder()
    if type(encoder) is JSONEncoder:
        return
    key = (id(gateway), id(encoder))
    with _lock:
        if key in _announced:
            return
        _announced.add(key)
    text = describe(encoder)
    if text is None:
        return
    level = logging.INFO if encoder_kind(encoder) == "custom-json" else logging.WARNING
    logger.log(level, "actorschema (%s): %s", where, text)


def json_form(value: Any) -> Any:
    """``value`` in JSON form as pydantic writes it; as it is when pydantic cannot (the JSON check says why).

    For a parameter without a type, when the encoder writes no JSON: what a JSON
    encoder would have written for it.
    """
    try:
        return pydantic_core.to_jsonable_python(value)
    except Exception:
        return value


def raw_from(
    contract: ActorContract,
    arguments: tuple[tuple[Any, ...], dict[str, Any]],
    source: tuple[tuple[Any, ...], dict[str, Any]],
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``arguments`` with the values of raw JSON parameters taken from ``source`` (both in canonical form).

    Raw: no type (``Any``, ``dict``, unannotated), or a hint of JSON containers
    (``dict[str, Any] | None``) that takes the ``source`` value as it is; a ``str``
    parameter never takes a datetime that a ``decode()`` revived from its text.

    Parameters:
      contract: The actor's contract.
      arguments: The arguments to complete, as ``(args, kwargs)`` in canonical form.
      source: Where raw parameters' values come from (the JSON on the wire, or
        what the app's ``decode()`` gave), bound the same way.
    """
    args, kwargs = arguments
    source_args, source_kwargs = source

    def takes(parameter: Any, value: Any) -> bool:
        if parameter is None:
            return False
        if parameter.adapter is None:
            return True
        if not parameter.keeps_value or parameter.exact is not None:
            return False
        try:
            parameter.adapter.validate_python(value, strict=True)
        except Exception:
            return False
        return True

    positional, var_positional = contract.positional, contract.var_positional
    merged_args = tuple(
        source_args[index]
        if index < len(source_args)
        and takes(positional[index] if index < len(positional) else var_positional, source_args[index])
        else value
        for index, value in enumerate(args)
    )
    by_name, var_keyword = contract.by_name, contract.var_keyword
    merged_kwargs = {
        name: source_kwargs[name]
        if name in source_kwargs and takes(by_name.get(name, var_keyword), source_kwargs[name])
        else value
        for name, value in kwargs.items()
    }
    return merged_args, merged_kwargs
