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
instead of a format most validators do not know. Every other string ``format``
(``date-time``, ``uuid``...) gets the pattern :mod:`actorschema.formats`
holds for it, so that validators that treat ``format`` as an annotation (the
draft 2020-12 default) and those that assert it reach the worker's verdict.
:class:`WorkerSchema` tightens the rest
where the validator reads more strictly than pydantic's schema says: dict keys
as the text the gateway writes, ``Flag`` combinations, URL schemes, required
discriminator tags.
"""

from __future__ import annotations

import enum
import inspect
import typing
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from .contract import ActorContract, Parameter
from .defaults import PublishedJsonSchema, function_facts, published_text, scrub_field, scrub_texts
from .formats import exact_string_form
from .hints import flag_values
from .limits import SizeLimit
from .message import (
    DELAY_QUEUE_SUFFIX,
    GROUP_CALLBACKS,
    MESSAGE_FIELD_ORDER,
    PIPE_TARGET,
    delay_queue_rule,
    field_schemas,
    options_schema,
)
from .numbers import DECIMAL_PATTERN, SchemaGenerator, decimal_text_pattern

__all__ = ["DECIMAL_PATTERN", "DIALECT", "actor_description", "message_schema", "result_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# The patterns read the same in Python (jsonschema) and ECMA-262 (ajv): [0-9], not \d (which
# also matches other scripts' digits in Python), and (?!\n) before $, which in Python would
# otherwise also match before a trailing newline.

#: base64url text, as pydantic writes ``bytes`` (RFC 4648 section 5, padding optional) and as
#: its decoder reads it: the last character carries no stray bits, so ``"ab"`` is refused
#: (``"aQ"`` is one byte).
BASE64URL_PATTERN = (
    r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]={0,2}|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]=?)?(?!\n)$"
)
#: ``int`` dict keys as pydantic writes them (and the only spelling of each: ``"01"`` would collide with ``"1"``).
INT_KEY_PATTERN = r"^-?(?:0|[1-9][0-9]*)(?!\n)$"
#: Finite ``float`` dict keys as pydantic writes them (Python's ``repr``: ``1.0``, ``1e+20``, ``1e-05``).
FLOAT_KEY_PATTERN = r"^-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?!\n)$"


def message_schema(contract: ActorContract, limit: SizeLimit, *, claims: bool = False) -> dict[str, Any]:
    """Return the JSON Schema of the canonical messages ``contract``'s actor accepts.

    Parameters:
      contract: The actor's contract.
      limit: The size limit that applies to its messages (stated, not enforced).
      claims: The actor has the claim check on: each top-level argument may be
        a claim reference instead of its value (:mod:`actorschema.claims.reference`).
    """
    parameter_schemas, definitions = _parameter_schemas(contract)
    if claims:
        from .claims.reference import DEFINITION, claimable, reference_definition

        parameter_schemas = {name: claimable(schema) for name, schema in parameter_schemas.items()}
        definitions = {**definitions, DEFINITION: reference_definition()}
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
            "queue_name": {"enum": [queue, queue + DELAY_QUEUE_SUFFIX]},
            "actor_name": {"const": contract.actor_name},
            "args": _args_schema(contract, parameter_schemas),
            "kwargs": kwargs,
            "options": _nesting_options_schema(),
            **field_schemas(),
        },
        **delay_queue_rule(queue),
    }
    pinned_required = [p.name for p in contract.positional if p.required and p.kind in _NAMED]
    if pinned and pinned_required:
        # Either the positionals travel by name, or *args values pinned them all into args.
        schema["anyOf"] = [
            {"properties": {"kwargs": {"type": "object", "required": pinned_required}}},
            {"properties": {"args": {"type": "array", "minItems": len(contract.positional) + 1}}},
        ]
    schema["$defs"] = {**definitions, NESTED_MESSAGE: _nested_message_schema()}
    return schema


#: The ``$defs`` entry of a message nested in options (a pipeline's next step, a group's callbacks).
NESTED_MESSAGE = "actorschema.NestedMessage"
_NESTED_REF = {"$ref": f"#/$defs/{NESTED_MESSAGE}"}


def _nesting_options_schema() -> dict[str, Any]:
    """The options' schema, with the nested messages' shape stated instead of only ``"object"``."""
    options = options_schema()
    properties = options["properties"]
    properties[PIPE_TARGET] = {
        "description": properties[PIPE_TARGET]["description"],
        "anyOf": [{"type": "null"}, _NESTED_REF],
    }
    properties[GROUP_CALLBACKS] = {
        "description": properties[GROUP_CALLBACKS]["description"],
        "type": ["array", "null"],
        "items": _NESTED_REF,
    }
    return options


def _nested_message_schema() -> dict[str, Any]:
    """What the worker checks of a nested message (``message.envelope_violations``): its envelope.

    Its arguments are the next actor's, checked when that message runs: the
    gateway converts them on send with that actor's contract.
    """
    return {
        "type": "object",
        "description": "a Dramatiq message nested in options (built with actor.message(...))",
        "additionalProperties": False,
        "required": list(MESSAGE_FIELD_ORDER),
        "properties": {
            "queue_name": {"type": "string", "minLength": 1},
            "actor_name": {"type": "string", "minLength": 1},
            "args": {"type": "array"},
            "kwargs": {"type": "object"},
            "options": _nesting_options_schema(),
            **field_schemas(),
        },
        **delay_queue_rule(),
    }


def result_schema(contract: ActorContract, result: Parameter) -> dict[str, Any]:
    """Return the JSON Schema of the JSON form an actor's results travel in.

    The result converts as an argument of its return annotation's type would
    (see :mod:`actorschema.results`), so its schema is that parameter's schema.

    Parameters:
      contract: The actor's contract (for its name and queue).
      result: The actor's result, as :func:`~actorschema.contract.result_parameter` builds it.
    """
    name = contract.actor_name
    schemas, definitions = _parameter_schemas(ActorContract(name, contract.queue_name, [result]))
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": f"{name}.result-schema.json",
        "title": f"Result of actor {name!r}",
        "$comment": "actorschema: what the actor hands on (results backend, next pipeline step, on_success)",
        **schemas[result.name],
    }
    if definitions:
        schema["$defs"] = definitions
    return schema


def written_schema(parameter: Parameter) -> dict[str, Any]:
    """The JSON Schema of what the send side writes for ``parameter`` (pydantic's serialization mode), ``$defs`` inside.

    Narrower than the published (validation) schema where the written form is one
    of several the validator reads: a ``Decimal`` is always text, a model never
    carries keys it does not declare (unless ``extra="allow"``). Used to judge
    where a value goes once written (a result appended to the next pipeline step).

    Parameters:
      parameter: A typed parameter (or a result, from ``result_parameter``).
    """
    if parameter.adapter is None:
        return _raw_schema(parameter)
    schema = parameter.adapter.json_schema(
        mode="serialization", ref_template="#/$defs/{model}", schema_generator=WorkerSchema
    )
    return typing.cast(dict[str, Any], _closed(_tightened(schema, _BASE64URL)))


def leaf_schema(core: core_schema.CoreSchema) -> dict[str, Any]:
    """The published JSON Schema of one scalar of a parameter's type (a ``datetime``, a ``UUID``...).

    Written by the same generator and tightening as the schemas ``generate``
    publishes, so a check of one value against it is the schema's check of that
    place; the worker uses it to judge the text of a time or UUID inside a value
    (:mod:`actorschema.consume.arguments`).

    Parameters:
      core: A pydantic-core schema with no references (a leaf).
    """
    schema = WorkerSchema(ref_template="#/$defs/{model}").generate(core, mode="validation")
    return typing.cast(dict[str, Any], _tightened(schema, _BASE64URL))


def _closed(node: Any) -> Any:
    """Objects with declared properties and no word on others as closed: what a model writes."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _closed(value) for key, value in node.items()}
    if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _parameter_schemas(contract: ActorContract) -> tuple[dict[str, Any], dict[str, Any]]:
    """One schema per parameter, sharing one ``$defs`` (so two models never clash on a name).

    Defaults, examples and texts appear only where the source writes them as
    literals (:mod:`actorschema.defaults`): a default computed at run time
    leaves the parameter optional, with :data:`~actorschema.defaults.COMPUTED`
    in its ``$comment``.
    """
    facts = function_facts(contract.function)
    typed = [(p.name, "validation", p.adapter) for p in contract.parameters if p.adapter is not None]
    schemas: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    if typed:
        by_key, shared = TypeAdapter.json_schemas(
            typed,  # type: ignore[arg-type]
            ref_template="#/$defs/{model}",
            schema_generator=WorkerSchema,
        )
        # bytes travel as base64url everywhere (the contract refuses models that would write UTF-8 text).
        definitions = _tightened(shared.get("$defs", {}), _BASE64URL)
        schemas = {
            name: _text_keys(_tightened(schema, _BASE64URL), definitions)
            for (name, _), schema in by_key.items()
        }
        definitions = _text_keys(definitions, definitions)
    for parameter in contract.parameters:
        if parameter.adapter is None:
            schemas[parameter.name] = _raw_schema(parameter)
        name = parameter.name
        schema = scrub_field(schemas[name], facts, name, parameter.default, _copied(parameter.hint))
        schema = scrub_texts(schema, facts, {name})
        if "default" not in schema and facts.literal_default(name, parameter.default):
            default = _json_default(parameter)
            if default is not _NO_DEFAULT:
                schema = {**schema, "default": default}
        schemas[name] = schema
    return schemas, definitions


def _copied(hint: Any) -> dict[str, Any]:
    """What a ``Field(...)`` in an ``Annotated`` hint (where a ``= Field(...)`` default goes) copies into the schema."""
    copied: dict[str, Any] = {}
    for meta in getattr(hint, "__metadata__", ()):
        for keyword in ("examples", "json_schema_extra"):
            if getattr(meta, keyword, None) is not None:
                copied[keyword] = getattr(meta, keyword)
    return copied


def actor_description(contract: ActorContract) -> str | None:
    """The actor's docstring when its source writes it (never one assigned to ``__doc__`` at run time).

    Parameters:
      contract: The actor's contract.
    """
    return published_text(function_facts(contract.function), contract.description)


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
    lines = [actor_description(contract) or f"Messages for the Dramatiq actor {contract.actor_name!r}."]
    lines.append(_limit_comment(limit) + ".")
    return "\n\n".join(lines)


def _limit_comment(limit: SizeLimit) -> str:
    if limit.limit is None:
        return "actorschema: no size limit applies"
    return f"actorschema: encoded messages are at most {limit.limit} bytes ({limit.source} limit)"


_BASE64URL = {"contentEncoding": "base64url", "pattern": BASE64URL_PATTERN}


class WorkerSchema(SchemaGenerator, PublishedJsonSchema):
    """pydantic's validation-mode JSON Schema, tightened to exactly what the worker's validator accepts.

    Dict keys as the text the gateway writes (an ``int`` key is ``"1"``, never
    ``1``, which a JSON object key cannot be); every combination of a ``Flag``;
    a URL type's schemes; a discriminated union's tag required, default or not
    (pydantic's validator cannot pick a member without it); a ``NamedTuple``
    as the full array the gateway writes (ajv's strict mode also wants that).
    """

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        result = super().dict_schema(schema)
        keys = _key_text_schema(schema.get("keys_schema"))
        if keys is not None:
            result["propertyNames"] = keys
        return result

    def enum_schema(self, schema: core_schema.EnumSchema) -> JsonSchemaValue:
        result = super().enum_schema(schema)
        cls = schema["cls"]
        if issubclass(cls, enum.Flag):
            result["enum"] = list(flag_values(cls))
        return result

    def url_schema(self, schema: core_schema.UrlSchema) -> JsonSchemaValue:
        result = super().url_schema(schema)
        schemes = schema.get("allowed_schemes")
        if schemes:
            # Case-insensitive, as the URL parser reads schemes; in allOf, beside any format pattern.
            # "+", "." and "-" (cockroachdb+psycopg2) in a class: literal in ECMA-262 and Python alike.
            alternatives = "|".join(
                "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else f"[{c}]" for c in scheme)
                for scheme in schemes
            )
            result.setdefault("allOf", []).append({"pattern": f"^(?:{alternatives}):"})
        if schema.get("host_required") or (schema.get("default_port") and not schema.get("default_host")):
            # pydantic's DSNs refuse a URL without a host (SnowflakeDsn) or one whose port they
            # cannot set (MariaDBDsn): "//", then a host character.
            result.setdefault("allOf", []).append({"pattern": "^[^:]*://(?:[^@/?#]*@)?[^:@/?#]"})
        elif schema.get("default_host"):
            # A default host cannot be set on an opaque path ("kafka:a"): the path starts with "/".
            result.setdefault("allOf", []).append({"pattern": "^[^:]*:/"})
        return result

    def tuple_schema(self, schema: core_schema.TupleSchema) -> JsonSchemaValue:
        return _full_tuple(super().tuple_schema(schema))

    def call_schema(self, schema: core_schema.CallSchema) -> JsonSchemaValue:
        return _full_tuple(super().call_schema(schema))

    def named_tuple_schema(self, schema: Any) -> JsonSchemaValue:
        # pydantic 2.14 gives NamedTuples a core schema of their own (before, a call schema).
        return _full_tuple(getattr(super(), "named_tuple_schema")(schema))  # noqa: B009 - absent before 2.14

    def tagged_union_schema(self, schema: core_schema.TaggedUnionSchema) -> JsonSchemaValue:
        result = super().tagged_union_schema(schema)
        # OpenAPI's keyword, unknown to JSON Schema validators (ajv's strict mode refuses it):
        # the required tags below say the same, exactly.
        tag = (result.pop("discriminator", None) or {}).get("propertyName")
        if isinstance(tag, str) and isinstance(result.get("oneOf"), list):
            result["oneOf"] = [_requiring(branch, tag) for branch in result["oneOf"]]
        return result


def _full_tuple(result: JsonSchemaValue) -> JsonSchemaValue:
    items = result.get("prefixItems")
    if isinstance(items, list) and result.get("maxItems") == len(items) and "items" not in result:
        result["minItems"] = len(items)
    return result


def _requiring(branch: Any, tag: str) -> Any:
    if not isinstance(branch, dict):
        return branch
    required = branch.get("required", [])
    if tag in required:
        return branch
    # "type" beside "required": ajv's strict mode wants to know the keyword applies.
    return {**branch, "type": "object", "required": [*required, tag]}


def _key_text_schema(keys: Any) -> dict[str, Any] | None:
    """The ``propertyNames`` of a dict whose keys pydantic writes as text; None where it says it right."""
    if not isinstance(keys, dict):
        return None
    kind = keys.get("type")
    if kind == "int":
        return {"pattern": INT_KEY_PATTERN}
    if kind == "float":
        return {"pattern": FLOAT_KEY_PATTERN}
    if kind == "bool":
        return {"enum": ["true", "false"]}
    if kind == "enum" and keys.get("sub_type") in ("int", "str"):
        # An IntEnum or a str Enum, said here whatever pydantic's version writes (Flag keys are
        # refused: pydantic reads only single members from key text).
        return {"enum": [str(member.value) for member in keys["members"]]}
    if kind == "literal" and all(type(value) is str for value in keys["expected"]):
        return {"enum": list(keys["expected"])}
    if kind == "decimal":
        return {"pattern": decimal_text_pattern(typing.cast(core_schema.DecimalSchema, keys))}
    return None


def _text_keys(node: Any, definitions: dict[str, Any]) -> Any:
    """``propertyNames`` that name an integer enum in ``$defs`` (pydantic's, for IntEnum keys): their texts."""
    if isinstance(node, list):
        return [_text_keys(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _text_keys(value, definitions) for key, value in node.items()}
    names = out.get("propertyNames")
    if isinstance(names, dict) and isinstance(names.get("$ref"), str):
        target = definitions.get(names["$ref"].removeprefix("#/$defs/"), {})
        if target.get("type") == "integer" and isinstance(target.get("enum"), list):
            out["propertyNames"] = {"enum": [str(value) for value in target["enum"]]}
    return out


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
    if node.get("format") == "path":
        del node["format"]  # pydantic's own name; a path is any text to its validator
    if node.get("type") == "string" and node.get("format") in ("binary", "base64url"):
        del node["format"]
        node.update(bytes_form)
    elif node.get("type") == "string" and "format" in node:
        node = exact_string_form(node)
    return node
