"""The worker's check of a consumed message's arguments, and their typed delivery.

The arguments of a consumed message are judged with **JSON semantics**: the
verdict is that of a standard JSON Schema validator (``jsonschema``, draft
2020-12) on the very schema ``actorschema generate``
publishes for the actor, which is built from the actor's
:class:`~actorschema.contract.ActorContract`. So there is one definition of a
valid message: the contract; the schema is how it reads in JSON, and the
worker applies exactly that reading. For an ``int`` parameter ``5`` and
``5.0`` are valid, ``"5"`` and ``true`` are not.

Formats are checked with :data:`actorschema.formats.FORMAT_CHECKER`: for
every form the schemas constrain (``date-time``, ``date``, ``time``, ``uuid``,
durations...) the very pattern the schema carries beside its ``format``, so
the worker, ``actorschema validate`` and any producer's validator apply one
rule, whether that validator asserts ``format`` or not.

The worker can be stricter than the schema in two ways, recorded in the
tests: values JSON cannot hold (``NaN``, lone surrogates), which a lenient
decoder may have let through, and values pydantic cannot turn into the
declared type although the schema does not rule them out. The string forms
:mod:`actorschema.formats` makes exact leave none of the latter; constraints
JSON Schema cannot state still can (a ``FutureDatetime``, a ``datetime`` with
``gt=``), and so can two dict keys that name
one key once converted (``"1"`` and ``"1.0"`` for a ``float`` key), which no
JSON Schema keyword can express.

A message in the legacy positional form (older producers, pipeline
continuations) is bound to the signature first and then judged in canonical
form, the one documented difference between the schema and the worker.

After the verdict, typed parameters are converted to their Python types,
through pydantic's JSON mode, the inverse of how the send side wrote them:
models, ``datetime``, ``UUID``, ``Decimal``, ``Enum``, ``tuple``, ``bytes``
(from base64url) and containers of them; dict keys that two texts name once
converted (``"1"`` and ``"1.0"`` for a ``float`` key) are refused, both named,
rather than one entry silently kept. The converted values go to the
actor only, never back into the message: a retry re-encodes the message as it
arrived.

Two shortcuts give the same verdict and the same values for less, each
decided once per parameter from pydantic's core schema and checked against
the path above with hypothesis (``tests/unit/consume/test_arguments_lanes.py``):
where pydantic's Python mode reads JSON values as its JSON mode reads their
text (:func:`~actorschema.hints.reads_json_as_python`), the value is validated
as decoded, without being encoded again; and where a msgspec type can mirror
the hint at least as strictly as the schema (:func:`_wire_lane`), its strict
conversion judges the value in one pass and the schema pass is skipped,
unless it refuses: then the full check judges and words the refusal.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, NotRequired, Required, TypedDict

import msgspec
import pydantic

# Without types-jsonschema installed these are Any; with it, fully typed.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped, unused-ignore]
from pydantic import TypeAdapter

from ..contract import ActorContract, Parameter, hint_text, pydantic_violations
from ..encoder import encode_json
from ..errors import NonJSONPayload, PayloadInvalid, Violation
from ..formats import FORMAT_CHECKER, WHAT_TO_SEND, form_of, pattern_decides, without_pattern_twins
from ..hints import reads_json_as_python
from ..limits import SizeLimit
from ..numbers import any_node, has_float_multiple
from ..paths import Path, render_path
from ..schema import leaf_schema, message_schema
from ..strict_json import find_violations, is_strict_json

__all__ = ["InboundContract", "WireLane"]

#: In :meth:`InboundContract.as_sent`'s table: a raw parameter that takes any JSON value.
_ANY_JSON = object()

_STRICTER_HINT = "a value every JSON Schema validator accepts (ASCII digits, no trailing newline)"


def _fast_validator(schema: dict[str, Any]) -> Any:
    """jsonschema-rs for the common case, with the worker's format checkers plugged in.

    Structure, types and bounds are standard; formats are where validators
    differ (leap seconds, a space for ``T``, ``urn:uuid:``), so the fast
    engine asks the very functions the slow one uses
    (:data:`actorschema.formats.FORMAT_CHECKER`). Its verdict then differs
    from jsonschema's only on patterns written with ``\\d`` or ``$``, and there
    it is the stricter one. None when jsonschema-rs is not installed:
    jsonschema alone decides.
    """
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a platform without its wheel
        return None
    if not any_node(schema, lambda node: "format" in node and not pattern_decides(node)):
        # Every format here is checked by the pattern beside it, which Rust runs already:
        # no call back into Python per date-time or UUID.
        return jsonschema_rs.Draft202012Validator(schema, validate_formats=False)
    formats: dict[str, Callable[..., bool]] = {
        str(name): functools.partial(_conforms, func, raises)
        for name, (func, raises) in FORMAT_CHECKER.checkers.items()
    }
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True, formats=formats)


def _conforms(func: Callable[[Any], Any], raises: Any, value: Any) -> bool:
    """``FORMAT_CHECKER.conforms(value, name)`` without its lookup and ``FormatError`` round trip.

    jsonschema's checker calls ``func`` and takes a falsy result, or one of the
    exceptions the format registered (``raises``), as "does not conform";
    anything else propagates, as there.
    """
    try:
        return bool(func(value))
    except raises:
        return False


def _arguments_part(schema: dict[str, Any]) -> dict[str, Any]:
    """The published schema with only what it says about ``args`` and ``kwargs``.

    The worker checks the envelope itself, more tolerantly (see
    :mod:`actorschema.consume.envelope`); judging only the arguments part also skips
    re-checking an envelope on every message.
    """
    part: dict[str, Any] = {key: schema[key] for key in ("$schema", "$defs", "anyOf") if key in schema}
    part["properties"] = {name: schema["properties"][name] for name in ("args", "kwargs")}
    return part


class InboundContract:
    """The worker's side of one actor's contract: judge consumed arguments, then deliver them typed.

    Parameters:
      contract: The actor's contract, the same object the send side uses.
    """

    def __init__(self, contract: ActorContract) -> None:
        self.contract = contract
        # The size limit is not a JSON Schema keyword: it only changes the schema's prose.
        self.schema = message_schema(contract, SizeLimit(None, "global"))
        part = _arguments_part(self.schema)
        self._validator = Draft202012Validator(part, format_checker=FORMAT_CHECKER)
        # jsonschema-rs takes 0.3 for a multiple of 0.1; jsonschema and ajv, and so send, do not.
        self._fast = None if has_float_multiple(part) else _fast_validator(part)
        kinds = inspect.Parameter
        self._slots = [
            p for p in contract.parameters if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
        ]
        # Parameters whose schema says at most "type" (plus a comment or default): hinted exactly
        # int, str, bool or float, whose values of exactly that Python type are their own Python
        # values, or raw JSON (list, dict, Any, unannotated), which the worker never converts.
        # Only for a plain signature: every keyword then names a parameter or is refused.
        self._exact: dict[str, Any] | None = None
        if contract._plain:
            self._exact = {
                p.name: p.exact or p.container or _ANY_JSON
                for p in contract.parameters
                if p.exact is not None or p.adapter is None
            }
        self._required = contract.required_names
        # Per parameter, what judges and converts its value in one pass, when every parameter
        # has one: the exact type or raw container above, or a wire lane (_wire_lane).
        self._lanes: dict[str, Any] | None = None
        if self._exact is not None and self._fast is not None:
            lanes = dict(self._exact)
            for parameter in contract.parameters:
                if parameter.name not in lanes and parameter.adapter is not None:
                    lane = _wire_lane(parameter.adapter)
                    if lane is not None:
                        lanes[parameter.name] = lane
            if len(lanes) == len(contract.parameters):
                self._lanes = lanes
        #: What a body's keyword arguments can be decoded with, when a wire lane takes a typed
        #: parameter (:func:`~actorschema.consume.envelope.read_arguments_with`): per parameter,
        #: its lane's mirror, which judges the value as it is read, or ``Any``. Empty: none.
        lanes = self._lanes or {}
        self.wire_types: dict[str, Any] = {}
        if any(type(lane) is WireLane for lane in lanes.values()):
            self.wire_types = {
                name: lane.read if type(lane) is WireLane else Any for name, lane in lanes.items()
            }
        # Parameters whose values pydantic's Python mode reads as its JSON mode would the same
        # text: no encoding, and the cheaper validation (decided once, on the core schema).
        self._read_alike = frozenset(
            p.name
            for p in contract.parameters
            if p.adapter is not None and reads_json_as_python(p.adapter.core_schema)
        )

    def as_sent(self, kwargs: Mapping[str, Any]) -> bool:
        """True when canonical ``kwargs`` (and no ``args``) are valid and already their actor's values.

        The common case decided without the schema pass or any conversion: every
        required parameter is there, and every value is of exactly the type its
        parameter is hinted (``int``, ``str``, ``bool``, ``float``), of the
        container a raw parameter names (``list``, ``dict``), or for a raw
        parameter (``Any``, unannotated) any value. The schema accepts exactly
        such a document, and conversion returns each value as it is;
        ``tests/unit/consume/test_arguments_fast_paths.py`` checks both against jsonschema and
        :meth:`check`. False decides nothing: :meth:`check` then judges them.

        Parameters:
          kwargs: ``kwargs`` as strictly decoded (strict JSON: no ``NaN``, no lone surrogates).
        """
        exact = self._exact
        if exact is None or not self._required <= kwargs.keys():
            return False
        for key, value in kwargs.items():
            expected = exact.get(key)
            if expected is not type(value) and expected is not _ANY_JSON:
                return False
        return True

    def check(
        self,
        args: tuple[Any, ...] | list[Any],
        kwargs: Mapping[str, Any],
        *,
        strict_json: bool = False,
        mirrored: bool = False,
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Judge consumed arguments; return them converted for the call, ``fn(*args, **kwargs)``.

        Parameters:
          args: ``args`` as decoded.
          kwargs: ``kwargs`` as decoded.
          strict_json: They were decoded from strict JSON already (no ``NaN``, no
            lone surrogates): skip walking them for those.
          mirrored: ``kwargs`` (and no ``args``) were decoded with :attr:`wire_types`: the
            value of each parameter with a wire lane passed its mirror type as it was read.

        Raises:
          PayloadInvalid: The arguments do not fit the signature, or the schema refuses them.
          NonJSONPayload: A value JSON cannot hold (``NaN``, a lone surrogate).
        """
        contract = self.contract
        # Judged as they arrived, so the paths are where the values are in the message.
        if not strict_json and not (is_strict_json(list(args)) and is_strict_json(dict(kwargs))):
            violations = find_violations(list(args), ("args",)) + find_violations(dict(kwargs), ("kwargs",))
            raise NonJSONPayload(contract.actor_name, violations)
        bound_args, bound_kwargs, origins = contract.bind(args, kwargs)
        if self._lanes is not None and not bound_args:
            typed = self._in_lanes(bound_kwargs, mirrored)
            if typed is not None:
                return (), typed
        document = {"args": list(bound_args), "kwargs": bound_kwargs}
        if self._fast is None or not self._fast.is_valid(document):
            self._refuse(document, origins)
        return self._typed(bound_args, bound_kwargs, origins)

    def _in_lanes(self, kwargs: dict[str, Any], mirrored: bool) -> dict[str, Any] | None:
        """Bound ``kwargs`` judged and converted in one pass; None when a lane refuses (the full check decides).

        Every lane is at least as strict as the published schema, and gives the
        value the full check's conversion gives (``tests/unit/consume/test_arguments_lanes.py``),
        so what they accept needs no schema pass; what one refuses is judged again
        by :meth:`check`'s full path, which also words the refusal. ``mirrored``: each
        wire lane's mirror judged its value when the body was decoded.
        """
        lanes = self._lanes
        assert lanes is not None
        out: dict[str, Any] = {}
        for name, value in kwargs.items():
            lane = lanes[name]
            if lane is _ANY_JSON:
                out[name] = value
            elif type(lane) is type:
                if type(value) is not lane:
                    return None
                out[name] = value
            else:
                try:
                    out[name] = lane.validate(value) if mirrored else lane(value)
                except (msgspec.ValidationError, pydantic.ValidationError):
                    return None
        return out

    def _refuse(self, document: dict[str, Any], origins: dict[str, Path]) -> None:
        """Raise PayloadInvalid with jsonschema's account of what is wrong (the rare, slow path)."""
        errors = without_pattern_twins(list(self._validator.iter_errors(document)))
        if errors:
            raise PayloadInvalid(
                self.contract.actor_name, [self._violation(error, origins) for error in errors]
            )
        if self._fast is None:
            return
        # The fast engine alone refuses: only where a pattern's \d or $ reads more strictly in
        # Rust (and ECMA-262: ajv) than in Python's re; the worker takes the stricter reading.
        violations = [
            Violation(render_path(_original_path(tuple(e.instance_path), origins)), e.message, _STRICTER_HINT)
            for e in self._fast.iter_errors(document)
        ]
        raise PayloadInvalid(self.contract.actor_name, violations)

    def _typed(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], origins: dict[str, Path]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        contract = self.contract
        violations: list[Violation] = []
        out_args = []
        for index, value in enumerate(args):
            parameter = self._slots[index] if index < len(self._slots) else contract.var_positional
            assert parameter is not None  # bind() refused extra positionals without *args
            out_args.append(self._to_python(parameter, value, ("args", index), violations))
        out_kwargs = {}
        for name, value in kwargs.items():
            parameter = contract.by_name.get(name)
            if parameter is None or parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                parameter = contract.var_keyword
            assert parameter is not None  # bind() refused unknown keywords without **kwargs
            path = origins.get(name, ("kwargs", name))
            out_kwargs[name] = self._to_python(parameter, value, path, violations)
        if violations:
            raise PayloadInvalid(contract.actor_name, violations)
        return tuple(out_args), out_kwargs

    def _to_python(self, parameter: Parameter, value: Any, path: Path, violations: list[Violation]) -> Any:
        """The Python value the actor receives for one JSON value the schema accepted."""
        adapter = parameter.adapter
        if adapter is not None and parameter.name in self._read_alike and type(value) is not parameter.exact:
            if parameter.collides(value, path, violations):
                return value
            try:
                return adapter.validate_python(value)
            except pydantic.ValidationError:
                pass  # JSON mode decides, and words the refusal
        return _to_python(parameter, value, path, violations)

    def _violation(self, error: ValidationError, origins: dict[str, Path]) -> Violation:
        best = best_match([error])
        steps = tuple(best.absolute_path)
        problem = best.message
        key = _offending_key(best)
        if key is not None:
            # Point at the missing or unexpected field itself, as the send side does.
            steps = (*steps, key)
            problem = "is required but missing" if best.validator == "required" else "is not allowed here"
        parameter = self._parameter_at(steps)
        form = form_of(best.schema) if best.validator in ("format", "pattern") else None
        if form is not None:
            problem = f"{best.instance!r} is not a {form!r}"
            hint = WHAT_TO_SEND[form]
        elif parameter is not None:
            hint = f"a value of type {hint_text(parameter.hint)}"
        else:
            hint = _schema_hint(best)
        return Violation(render_path(_original_path(steps, origins)), problem, hint)

    def _parameter_at(self, steps: Path) -> Parameter | None:
        """The parameter whose value ``steps`` leads into, if any."""
        if len(steps) < 2:
            return None
        if steps[0] == "kwargs":
            return self.contract.by_name.get(steps[1]) or self.contract.var_keyword
        index = steps[1]
        if steps[0] == "args" and type(index) is int:
            return self._slots[index] if index < len(self._slots) else self.contract.var_positional
        return None


def _to_python(parameter: Parameter, value: Any, path: Path, violations: list[Violation]) -> Any:
    """The Python value the actor receives for one JSON value the schema accepted."""
    if parameter.adapter is None or type(value) is parameter.exact:
        return value
    adapter = parameter.adapter
    if parameter.collides(value, path, violations):
        return value
    try:
        # JSON mode: the inverse of the send side's JSON form (base64url bytes, RFC 3339 times).
        return adapter.validate_json(encode_json(value))
    except pydantic.ValidationError as error:
        if any(detail["type"] == "int_parsing_size" for detail in error.errors()):
            # JSON Schema's "integer" includes 1e20; pydantic parses only floats within 64 bits
            # as ints. The same number written as an integer is what the schema accepted.
            try:
                return adapter.validate_json(encode_json(_integral_floats_as_ints(value)))
            except pydantic.ValidationError as retry_error:
                error = retry_error
        # The send side's reading of pydantic's locations (union members and "[key]" are not places).
        violations.extend(
            dataclasses.replace(
                found, problem=f"{found.problem} (the schema allows it; the declared type does not)"
            )
            for found in pydantic_violations(error, path, parameter.hint, value)
        )
        return value


#: Scalar kinds and their msgspec type: in ``strict`` conversion, exactly the JSON type the schema names.
#: A float is ``int | float``, JSON's "number": read from a body, ``5`` stays the int plain decoding gives.
_SCALARS: dict[str, Any] = {"str": str, "int": int, "float": int | float, "bool": bool, "none": None}
#: msgspec ``Meta`` constraints that read as the JSON Schema keyword of the same meaning.
_BOUNDS = ("ge", "gt", "le", "lt", "multiple_of", "min_length", "max_length")


class WireLane:
    """One parameter's lane (see :func:`_wire_lane`): call it with a JSON value for the actor's value.

    Parameters:
      wire: The msgspec type that mirrors the published schema, at least as strictly.
      read: The same mirror with objects as TypedDicts: decoding with it builds the JSON value.
      validate: pydantic's Python mode for the parameter, which gives the actor's value.
    """

    __slots__ = ("read", "validate", "wire")

    def __init__(self, wire: Any, read: Any, validate: Callable[[Any], Any]) -> None:
        self.wire = wire
        self.read = read
        self.validate = validate

    def __call__(self, value: Any) -> Any:
        """Judge ``value`` with the mirror, then convert it; raises a ValidationError when either refuses."""
        _convert(value, self.wire, strict=True)
        return self.validate(value)


_convert = msgspec.convert


def _wire_lane(adapter: TypeAdapter[Any]) -> WireLane | None:
    """One parameter's lane: a msgspec type that judges a JSON value, then pydantic's Python mode for its value.

    The msgspec type mirrors the hint's core schema as the published schema
    reads it, at least as strictly: ``strict`` conversion takes exactly the JSON
    types the schema names (no ``"5"`` or ``5.0`` for an ``int``, no ``1`` for a
    ``bool``: refused, and left to the full check), object keys as published
    (aliases), unknown keys refused where the schema forbids them, and times and
    UUIDs as text matching the very pattern their schema carries. It is one pass
    in C, and builds nothing the actor gets. Its twin with objects as TypedDicts
    (``read``) builds the JSON value itself, so a body can be decoded with it
    (:func:`actorschema.consume.envelope.read_arguments_with`); it passes over
    keys it does not name, which the body's reading then notices. The actor's
    value comes from pydantic's Python mode, which reads JSON as JSON mode does
    for every hint with a lane (:func:`~actorschema.hints.reads_json_as_python`).

    None where the mirror could accept what the schema refuses: patterns
    (regex engines differ), float bounds (an ``int`` is compared once made a
    float), alias choices, sets (duplicates merged), tuples, a default in place
    of an invalid value, literals and enums other than text, recursive types.

    Parameters:
      adapter: A parameter's pydantic validator.
    """
    core = adapter.core_schema
    if not reads_json_as_python(core):
        return None
    try:
        wire = _Mirror(core, dicts=False).type_of(core)
        read = _Mirror(core, dicts=True).type_of(core)
    except Exception:  # a core schema shaped otherwise than this pydantic's: no lane, the full check
        return None
    if wire is _NO_MIRROR or read is _NO_MIRROR:
        return None
    return WireLane(wire, read, adapter.validate_python)


#: What :class:`_Mirror` returns for a part of a hint it cannot mirror at least as strictly.
_NO_MIRROR: Any = object()


class _Mirror:
    """msgspec types for the parts of one core schema (see :func:`_wire_lane`).

    Parameters:
      core: The core schema.
      dicts: Objects as TypedDicts (what they build is the dict the JSON holds, for
        decoding a body), not Structs (three times cheaper to build, for checking a
        value already decoded).
    """

    def __init__(self, core: Mapping[str, Any], *, dicts: bool) -> None:
        self.dicts = dicts
        self.definitions: dict[str, Any] = {}
        if core["type"] == "definitions":
            self.definitions = {item["ref"]: item for item in core["definitions"]}
        self.built: dict[str, Any] = {}
        self.building: set[str] = set()

    def type_of(self, node: Mapping[str, Any]) -> Any:
        kind = node["type"]
        if kind == "definitions":
            return self.type_of(node["schema"])
        if kind == "definition-ref":
            return self.reference(node["schema_ref"])
        if node.get("on_error", "raise") != "raise" or kind in ("set", "frozenset", "tuple", "default"):
            return _NO_MIRROR
        if kind in _SCALARS:
            if kind == "str" and node.get("pattern"):
                return _NO_MIRROR
            if kind == "float" and any(name in node for name in _BOUNDS):
                return _NO_MIRROR
            return _constrained(_SCALARS[kind], node)
        if kind in ("datetime", "date", "time", "uuid"):
            published = leaf_schema(dict(node))
            if not pattern_decides(published) or set(published) - {"type", "format", "pattern"}:
                return _NO_MIRROR
            return Annotated[str, msgspec.Meta(pattern=published["pattern"])]
        if kind == "literal":
            expected = node["expected"]
            return Literal[tuple(expected)] if all(type(v) is str for v in expected) else _NO_MIRROR
        if kind == "enum":
            values = tuple(member.value for member in node["members"])
            return Literal[values] if all(type(v) is str for v in values) else _NO_MIRROR
        if kind == "nullable":
            inner = self.type_of(node["schema"])
            return _NO_MIRROR if inner is _NO_MIRROR else inner | None
        if kind == "list":
            item = self.type_of(node["items_schema"])
            return _NO_MIRROR if item is _NO_MIRROR else _constrained(list[item], node)  # type: ignore[valid-type]
        if kind == "dict":
            keys = node.get("keys_schema", {"type": "str"})
            value = self.type_of(node["values_schema"])
            if set(keys) - {"type", "metadata"} or value is _NO_MIRROR:
                return _NO_MIRROR
            return _constrained(dict[str, value], node)  # type: ignore[valid-type]
        if kind == "model":
            inner = node["schema"]
            if node.get("root_model"):
                return self.type_of(inner)
            if inner["type"] != "model-fields":
                return _NO_MIRROR
            extra = inner.get("extra_behavior") or node.get("config", {}).get("extra_fields_behavior")
            return self.record(inner["fields"], extra, True)
        if kind == "typed-dict":
            return self.record(node["fields"], node.get("extra_behavior"), False)
        return _NO_MIRROR

    def reference(self, ref: str) -> Any:
        if ref in self.built:
            return self.built[ref]
        if ref in self.building or ref not in self.definitions:
            return _NO_MIRROR  # recursive: left to the full check
        self.building.add(ref)
        self.built[ref] = self.type_of(self.definitions[ref])
        return self.built[ref]

    def record(self, fields: Mapping[str, Any], extra: str | None, model: bool) -> Any:
        """An object of the fields' published keys; optional where the schema does not require them.

        A TypedDict passes keys it does not name (and drops them from what it
        builds): where ``extra`` forbids them, pydantic's own validation after it
        refuses them, and a body decoded with it no longer re-encodes to as many
        members (:func:`actorschema.consume.envelope.read_arguments_with`).
        """
        members: list[tuple[str, Any, bool]] = []  # (published key, type, required)
        for name, field in fields.items():
            key = field.get("validation_alias", name)
            if not isinstance(key, str):
                return _NO_MIRROR  # alias choices or paths
            schema = field["schema"]
            required = schema["type"] != "default" if model else field.get("required", True)
            if schema["type"] == "default":
                if schema.get("on_error", "raise") != "raise":
                    return _NO_MIRROR
                schema = schema["schema"]
            kind = self.type_of(schema)
            if kind is _NO_MIRROR:
                return _NO_MIRROR
            members.append((key, kind, required))
        if self.dicts:
            keys = {key: Required[kind] if required else NotRequired[kind] for key, kind, required in members}
            return TypedDict("Wire", keys)  # type: ignore[operator]
        return msgspec.defstruct(
            "Wire",
            [
                (f"f{index}", kind) if required else (f"f{index}", kind, None)
                for index, (_, kind, required) in enumerate(members)
            ],
            kw_only=True,
            rename={f"f{index}": key for index, (key, _, _) in enumerate(members)},
            forbid_unknown_fields=extra == "forbid",
            gc=False,
        )


def _constrained(kind: Any, node: Mapping[str, Any]) -> Any:
    bounds = {name: node[name] for name in _BOUNDS if name in node}
    return Annotated[kind, msgspec.Meta(**bounds)] if bounds else kind


def _offending_key(error: ValidationError) -> str | None:
    """The missing field of a ``required`` error, or the first unexpected one of ``additionalProperties``."""
    instance = error.instance
    if not isinstance(instance, dict):
        return None
    if error.validator == "required":
        return next((name for name in error.validator_value if name not in instance), None)
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = error.schema.get("properties", {})
        return next((name for name in instance if name not in known), None)
    return None


def _integral_floats_as_ints(value: Any) -> Any:
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is list:
        return [_integral_floats_as_ints(item) for item in value]
    if type(value) is dict:
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value


def _original_path(steps: Path, origins: dict[str, Path]) -> Path:
    """Where a value was in the message as it arrived: a positional value keeps its ``args[i]``."""
    if len(steps) >= 2 and steps[0] == "kwargs" and steps[1] in origins:
        return (*origins[steps[1]], *steps[2:])
    return steps


def _schema_hint(error: ValidationError) -> str:
    schema = error.schema
    if isinstance(schema, dict):
        for keyword in ("enum", "const", "type", "format", "pattern"):
            if keyword in schema:
                return f"a value matching {keyword} {schema[keyword]!r}"
    return "a value the actor's schema accepts"
