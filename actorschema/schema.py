"""JSON Schema (draft 2020-12) of the whole Dramatiq message an actor accepts.

Built from the actor's :class:`~actorschema.contract.ActorContract`, the same
object (and the same pydantic validators) the gateway checks messages with,
so there is one definition of "a valid message for actor X". The schema
describes the canonical message the gateway emits: arguments by name in
``kwargs``; ``args`` holds only positional-only parameters and ``*args``
values. Workers also accept the legacy positional form, which the schema
does not describe. Size cannot be expressed in JSON Schema: the limit is
stated in ``$comment`` and in the index the generator writes beside it.

Where pydantic's own JSON Schema is looser or stricter than its validator,
the schema is tightened to what the validator converts: ``Decimal`` is written
by :mod:`actorschema.numbers` (the same on every pydantic version, with its
``max_digits`` / ``decimal_places``), and ``bytes`` carry a base64url pattern
instead of a format most validators do not know.
"""

from __future__ import annotations

import inspect
from typing import Any

from pydantic import TypeAdapter

from .contract import ActorContract, Parameter
from .limits import SizeLimit
from .numbers import DECIMAL_PATTERN, SchemaGenerator
from .strict_json import MESSAGE_FIELD_ORDER

__all__ = ["DECIMAL_PATTERN", "DIALECT", "message_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: The options Dramatiq reads, with the types that do not break it.
DRAMATIQ_OPTIONS: dict[str, Any] = {
    "eta": {"type": "integer", "description": "When a delayed message is due, in ms since the epoch."},
    "redis_message_id": {"type": "string", "description": "RedisBroker: the id this copy is stored under."},
    "retries": {"type": "integer", "minimum": 0},
    "max_retries": {"type": ["integer", "null"], "minimum": 0},
    "min_backoff": {"type": "integer", "minimum": 0},
    "max_backoff": {"type": "integer", "minimum": 0},
    "traceback": {"type": "string"},
    "requeue_timestamp": {"type": "integer"},
    "pipe_ignore": {"type": "boolean"},
    "pipe_target": {"type": "object"},
    "on_success": {"type": "string"},
    "on_failure": {"type": "string"},
    "on_retry_exhausted": {"type": "string"},
    "group_completion_uuid": {"type": "string"},
    "group_completion_callbacks": {"type": "array", "items": {"type": "object"}},
    "time_limit": {"type": "integer", "minimum": 0},
    "max_age": {"type": "integer", "minimum": 0},
    "broker_priority": {"type": "integer", "minimum": 0},
}

# The patterns read the same in Python (jsonschema) and ECMA-262 (ajv): [0-9], not \d (which
# also matches other scripts' digits in Python), and (?!\n) before $, which in Python would
# otherwise also match before a trailing newline.

#: base64url text, as pydantic writes ``bytes`` (RFC 4648 section 5, padding optional) and as
#: its decoder reads it: the last character carries no stray bits, so ``"ab"`` is refused
#: (``"aQ"`` is one byte).
BASE64URL_PATTERN = (
    r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]={0,2}|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]=?)?(?!\n)$"
)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?!\n)$"


def message_schema(contract: ActorContract, limit: SizeLimit) -> dict[str, Any]:
    """Return the JSON Schema of the canonical messages ``contract``'s actor accepts.

    Parameters:
      contract: The actor's contract.
      limit: The size limit that applies to its messages (stated, not enforced).
    """
    parameter_schemas, definitions = _parameter_schemas(contract)
    named = [p for p in contract.parameters if p.kind in _NAMED]
    # With *args values, the positionals before them travel in args: then they
    # cannot be required by name.
    pinned = contract.var_positional is not None
    kwargs: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: parameter_schemas[p.name] for p in named},
        "required": [
            p.name
            for p in named
            if p.required and not (pinned and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ],
    }
    if contract.var_keyword is None:
        kwargs["additionalProperties"] = False
    else:
        kwargs["additionalProperties"] = parameter_schemas[contract.var_keyword.name]
    queue = contract.queue_name
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": f"{contract.actor_name}.schema.json",
        "title": f"Dramatiq message for actor {contract.actor_name!r}",
        "description": _description(contract, limit),
        "$comment": _limit_comment(limit),
        "type": "object",
        "additionalProperties": False,
        "required": list(MESSAGE_FIELD_ORDER),
        "properties": {
            "queue_name": {"enum": [queue, f"{queue}.DQ"]},
            "actor_name": {"const": contract.actor_name},
            "args": _args_schema(contract, parameter_schemas),
            "kwargs": kwargs,
            "options": {"type": "object", "properties": DRAMATIQ_OPTIONS},
            "message_id": {"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
            "message_timestamp": {"type": "integer", "minimum": 0},
        },
        # A message in the delay queue says when it is due.
        "if": {"properties": {"queue_name": {"const": f"{queue}.DQ"}}, "required": ["queue_name"]},
        "then": {
            "properties": {
                "options": {"type": "object", "properties": {"eta": {"type": "integer"}}, "required": ["eta"]}
            }
        },
    }
    pinned_required = [p.name for p in contract.positional if p.required and p.kind in _NAMED]
    if pinned and pinned_required:
        # Either the positionals travel by name, or *args values pinned them all into args.
        schema["anyOf"] = [
            {"properties": {"kwargs": {"type": "object", "required": pinned_required}}},
            {"properties": {"args": {"type": "array", "minItems": len(contract.positional) + 1}}},
        ]
    if definitions:
        schema["$defs"] = definitions
    return schema


_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _parameter_schemas(contract: ActorContract) -> tuple[dict[str, Any], dict[str, Any]]:
    """One schema per parameter, sharing one ``$defs`` (so two models never clash on a name)."""
    typed = [(p.name, "validation", p.adapter) for p in contract.parameters if p.adapter is not None]
    schemas: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    if typed:
        by_key, shared = TypeAdapter.json_schemas(
            typed,  # type: ignore[arg-type]
            ref_template="#/$defs/{model}",
            schema_generator=SchemaGenerator,
        )
        # pydantic says "format": "binary" for bytes whatever their JSON form: base64url
        # for the gateway's own adapters, UTF-8 text (pydantic's default) inside models.
        schemas = {name: _tightened(schema, _BASE64URL) for (name, _), schema in by_key.items()}
        definitions = _tightened(shared.get("$defs", {}), _TEXT)
    for parameter in contract.parameters:
        if parameter.adapter is None:
            schemas[parameter.name] = _raw_schema(parameter)
        schema = schemas[parameter.name]
        if parameter.default is not inspect.Parameter.empty and "default" not in schema:
            default = _json_default(parameter)
            if default is not _NO_DEFAULT:
                schemas[parameter.name] = {**schema, "default": default}
    return schemas, definitions


def _raw_schema(parameter: Parameter) -> dict[str, Any]:
    """Any strict JSON value (JSON Schema cannot express NaN anyway), or the named container."""
    if parameter.container is dict:
        return {"type": "object"}
    if parameter.container is list:
        return {"type": "array"}
    return {}


_NO_DEFAULT = object()


def _json_default(parameter: Parameter) -> Any:
    default = parameter.default
    if parameter.adapter is None:
        return default if _is_plain_json(default) else _NO_DEFAULT
    try:
        value = parameter.adapter.dump_python(default, mode="json")
    except Exception:
        return _NO_DEFAULT
    return value if _is_plain_json(value) else _NO_DEFAULT


def _is_plain_json(value: Any) -> bool:
    from .strict_json import find_violations

    return not find_violations(value)


def _args_schema(contract: ActorContract, schemas: dict[str, Any]) -> dict[str, Any]:
    positional_only = [p for p in contract.parameters if p.kind is inspect.Parameter.POSITIONAL_ONLY]
    schema: dict[str, Any] = {"type": "array"}
    # Positional-only values always travel in args; with *args, all positionals may.
    leading = positional_only if contract.var_positional is None else contract.positional
    if leading:
        schema["prefixItems"] = [schemas[p.name] for p in leading]
    if positional_only:
        schema["minItems"] = sum(1 for p in positional_only if p.required)
    if contract.var_positional is None:
        schema["maxItems"] = len(positional_only)
    else:
        schema["items"] = schemas[contract.var_positional.name]
    return schema


def _description(contract: ActorContract, limit: SizeLimit) -> str:
    lines = [contract.description or f"Messages for the Dramatiq actor {contract.actor_name!r}."]
    lines.append(_limit_comment(limit) + ".")
    return "\n\n".join(lines)


def _limit_comment(limit: SizeLimit) -> str:
    if limit.limit is None:
        return "actorschema: no size limit applies"
    return f"actorschema: encoded messages are at most {limit.limit} bytes ({limit.source} limit)"


_BASE64URL = {"contentEncoding": "base64url", "pattern": BASE64URL_PATTERN}
_TEXT: dict[str, Any] = {}


def _tightened(node: Any, bytes_form: dict[str, Any]) -> Any:
    """Replace pydantic's loose or unknown-format keywords with what its validator really accepts.

    Parameters:
      node: A schema, or part of one.
      bytes_form: The keywords that describe ``bytes`` values here, in place of ``format``.
    """
    if isinstance(node, list):
        return [_tightened(item, bytes_form) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _tightened(value, bytes_form) for key, value in node.items()}
    if node.get("type") == "string" and node.get("format") in ("binary", "base64url"):
        del node["format"]
        node.update(bytes_form)
    return node
