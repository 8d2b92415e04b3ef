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
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import pydantic
import pydantic_core

# Without types-jsonschema installed these are Any; with it, fully typed.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped, unused-ignore]
from pydantic_core import PydanticCustomError

from ..contract import ActorContract, Parameter, hint_text, pydantic_violations
from ..encoder import encode_json
from ..errors import NonJSONPayload, PayloadInvalid, Violation
from ..formats import FORMAT_CHECKER, WHAT_TO_SEND, form_of, pattern_decides, without_pattern_twins
from ..hints import CORE_CHILDREN, reads_json_as_python
from ..limits import SizeLimit
from ..numbers import _has, has_float_multiple
from ..paths import Path, render_path
from ..schema import leaf_schema, message_schema
from ..strict_json import find_violations, is_strict_json

__all__ = ["InboundContract"]

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
    if not _has(schema, lambda node: "format" in node and not pattern_decides(node)):
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
        # has one: the exact type or raw container above, or a wire validator (_wire_validator).
        self._lanes: dict[str, Any] | None = None
        if self._exact is not None and self._fast is not None:
            lanes = dict(self._exact)
            for parameter in contract.parameters:
                if parameter.name not in lanes and parameter.adapter is not None:
                    wire = _wire_validator(parameter.adapter.core_schema)
                    if wire is not None:
                        lanes[parameter.name] = wire.validate_python
            if len(lanes) == len(contract.parameters):
                self._lanes = lanes
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
        self, args: tuple[Any, ...] | list[Any], kwargs: Mapping[str, Any], *, strict_json: bool = False
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Judge consumed arguments; return them converted for the call, ``fn(*args, **kwargs)``.

        Parameters:
          args: ``args`` as decoded.
          kwargs: ``kwargs`` as decoded.
          strict_json: They were decoded from strict JSON already (no ``NaN``, no
            lone surrogates): skip walking them for those.

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
            typed = self._in_lanes(bound_kwargs)
            if typed is not None:
                return (), typed
        document = {"args": list(bound_args), "kwargs": bound_kwargs}
        if self._fast is None or not self._fast.is_valid(document):
            self._refuse(document, origins)
        return self._typed(bound_args, bound_kwargs, origins)

    def _in_lanes(self, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """Bound ``kwargs`` judged and converted in one pass; None when a lane refuses (the full check decides).

        Every lane is at least as strict as the published schema, and gives the
        value the full check's conversion gives (``tests/unit/consume/test_arguments_lanes.py``),
        so what they accept needs no schema pass; what one refuses is judged again
        by :meth:`check`'s full path, which also words the refusal.
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
                    out[name] = lane(value)
                except pydantic.ValidationError:
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


#: Scalars whose ``strict`` validation in Python mode takes exactly the JSON type the schema names.
_STRICT_SCALARS = frozenset({"str", "int", "float", "bool", "list", "dict"})
#: Scalars read from text: the text is checked against the published form first.
_TEXT_FORMS = frozenset({"datetime", "date", "time", "uuid"})
#: Model and TypedDict settings under which pydantic accepts more than the schema says.
_LOOSER_CONFIG = (
    "validate_by_name",
    "populate_by_name",
    "str_strip_whitespace",
    "str_to_lower",
    "str_to_upper",
)


def _wire_validator(core: Mapping[str, Any]) -> pydantic_core.SchemaValidator | None:
    """A validator that judges a JSON value at least as strictly as the published schema, and converts it.

    For a hint whose two pydantic modes read JSON alike
    (:func:`~actorschema.hints.reads_json_as_python`): its core schema with
    ``strict`` on every JSON scalar (no ``"5"`` for an ``int``, no ``1`` for a
    ``bool``; ``5.0`` for an ``int`` is refused too, and left to the full check)
    and every time or UUID text checked first against its published form
    (:func:`~actorschema.schema.leaf_schema`). None where pydantic may accept what
    the schema refuses, whatever the flags: patterns (two regex engines), float
    bounds (an ``int`` is compared once made a float), text transforms before a
    length check, names accepted beside aliases, sets (duplicates merged), a
    default taking the place of an invalid value; and models, which pydantic-core
    validates with their class's own (lax) validator wherever they appear.

    Parameters:
      core: A parameter's ``TypeAdapter.core_schema``.
    """
    if not reads_json_as_python(core):
        return None
    wire = _stricter(core)
    return None if wire is None else pydantic_core.SchemaValidator(wire)


def _stricter(node: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = node["type"]
    config = node.get("config") or {}
    if (
        # pydantic-core validates a model with its class's own validator whatever the schema
        # says inside (a "prebuilt" validator): its fields cannot be made strict here.
        kind in ("model", "set", "frozenset", "tuple")
        or any(config.get(name) for name in _LOOSER_CONFIG)
        or node.get("post_init")
        or node.get("on_error", "raise") != "raise"
        or not isinstance(node.get("validation_alias", ""), str)
    ):
        return None
    if kind == "str" and any(
        node.get(name) for name in ("pattern", "strip_whitespace", "to_lower", "to_upper")
    ):
        return None
    if kind == "float" and any(name in node for name in ("gt", "ge", "lt", "le", "multiple_of")):
        return None
    if kind == "literal" and not all(type(value) is str for value in node["expected"]):
        return None
    if kind in _TEXT_FORMS:
        return _text_checked(dict(node))
    out = dict(node)
    if kind in _STRICT_SCALARS:
        out["strict"] = True
    for key in CORE_CHILDREN[kind]:
        name = key.lstrip("*")
        child = node.get(name)
        if child is None:
            continue
        if not key.startswith("*"):
            out[name] = _stricter(child)
            if out[name] is None:
                return None
            continue
        members = child.items() if isinstance(child, dict) else enumerate(child)
        done = {index: _stricter(member) for index, member in members}
        if any(member is None for member in done.values()):
            return None
        out[name] = done if isinstance(child, dict) else list(done.values())
    return out


def _text_checked(leaf: dict[str, Any]) -> dict[str, Any]:
    """``leaf`` (a time or UUID) behind a check of its text against the published form."""
    form = _fast_validator(leaf_schema(leaf))
    assert form is not None  # a lane exists only with jsonschema-rs

    def published(value: Any) -> Any:
        if type(value) is not str or not form.is_valid(value):
            raise PydanticCustomError("published_form", "not the published form")
        return value

    return {
        "type": "function-before",
        "function": {"type": "no-info", "function": published},
        "schema": leaf,
    }


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
