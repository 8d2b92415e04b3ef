"""Numbers in the published schemas: ours, identical on every supported pydantic version.

pydantic's JSON Schema for ``Decimal`` changes between releases (2.6 writes a
bare ``"type": "string"``, 2.10 to 2.13 a digits pattern that misses the
exponents its own serializer writes, 2.14 a bare string again), and none of
them states ``max_digits`` / ``decimal_places``. A schema generated with one
version then differs from the committed one, and accepts ``"abc"``, ``"NaN"``
or ``"123.456"`` for a ``Decimal(max_digits=5, decimal_places=2)`` that the
worker refuses. :class:`SchemaGenerator` writes the ``Decimal`` schema itself,
from pydantic's core schema (the validator's own constraints), so it is the
same on every version and never looser than the worker:

* the string branch is a pattern that reads the same in Python (``jsonschema``)
  and ECMA-262 (ajv), accepting exactly the finite decimals the validator
  accepts within ``max_digits`` / ``decimal_places``, in fixed-point form (any
  leading or trailing zeros) and in the scientific form Python writes
  (``1.5E+3``, ``0E-10``), which is what the gateway stores; its bounds
  (``gt``, ``ge``, ``lt``, ``le``), a ``multiple_of`` whose significant digits
  are 1, 2, 4, 5 or 25 (``0.01``, ``0.05``, ``0.25``, ``5``), and
  ``allow_inf_nan`` are lookaheads on the text, exact on that form
  (:mod:`actorschema.ranges`);
* the number branch, where digits cannot be counted, is narrowed to integers
  within the whole-digit bound (a producer that must write ``1.25`` writes
  ``"1.25"``); its bounds are floats, which agree with pydantic's reading of
  the number (its shortest text) where a float holds the bound as written.

``float`` with ``multiple_of``: pydantic accepts a value within a tolerance of
a multiple (``0.3`` for ``multiple_of=0.1``), while ``jsonschema`` and ajv
divide and require an integral quotient in binary floating point, and refuse
``0.3``. :func:`exactness_violations` applies that rule (and the digit count
of a bounded ``Decimal``, which pydantic before 2.14 rounds first) to the JSON
values the send side stores, so ``send()`` refuses what the schema (and so
the worker) would refuse.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import (
    DefsRef,
    GenerateJsonSchema,
    JsonSchemaKeyT,
    JsonSchemaMode,
    JsonSchemaValue,
)
from pydantic_core import core_schema

from .errors import Violation
from .formats import WHAT_TO_SEND, exact_string_form
from .paths import Path, render_path
from .patterns import needs_send_check, translate
from .ranges import CONTEXT_DIGITS, SPECIAL_FORMS, comparison, decimal_multiple, multiples, special_forms

__all__ = [
    "DECIMAL_PATTERN",
    "SchemaGenerator",
    "any_node",
    "decimal_pattern",
    "decimal_text_pattern",
    "exactness_validator",
    "exactness_violations",
    "has_float_multiple",
]

# The patterns read the same in Python (jsonschema) and ECMA-262 (ajv): [0-9], not \d (which
# also matches other scripts' digits in Python), and (?!\n) before $, which in Python would
# otherwise also match before a trailing newline.

#: Finite decimals as pydantic's ``Decimal`` validator reads them (and as it writes them).
DECIMAL_PATTERN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?!\n)$"

#: How every bounded ``Decimal`` pattern begins (a marker for :func:`exactness_validator`).
_BOUNDED_DECIMAL = r"^[+-]?(?:(?=\.?[0-9])0*"
#: Exponents above this are matched by their digit count only (see :func:`decimal_pattern`).
_LISTED_EXPONENTS = 100


def decimal_pattern(max_digits: int | None, decimal_places: int | None) -> str:
    """The pattern of the decimal strings pydantic accepts under ``max_digits`` / ``decimal_places``.

    pydantic counts digits on the normalised value: with ``w`` digits before
    the point (leading zeros aside) and ``f`` after it (trailing zeros aside),
    it requires ``w + f <= max_digits``, ``f <= decimal_places`` and, with
    both, ``w <= max_digits - decimal_places``. The pattern states that for
    fixed-point text and for the scientific form Python's ``str(Decimal)``
    writes (one digit, then the fraction, then the exponent); other exponent
    forms (``12.5e1``) are refused, which is stricter than the worker but
    never looser. With only ``decimal_places``, a scientific value whose
    exponent exceeds 100 may hold at most 100 + ``decimal_places`` fraction
    digits (a value with a 100-digit coefficient, at least).

    Parameters:
      max_digits: The most significant digits, or None.
      decimal_places: The most digits after the point, or None.
    """
    if max_digits is None and decimal_places is None:
        return DECIMAL_PATTERN
    fixed = _fixed_point(max_digits, decimal_places)
    scientific = _scientific(max_digits, decimal_places)
    if _whole_room(max_digits, decimal_places) == 0:
        # pydantic counts a zero whose exponent is not negative ("0", "0E+2") as one whole
        # digit: with no room for one, a zero needs a fraction digit ("0.0", Python's "0E-7").
        zero = r"0[eE]-0*[1-9][0-9]*"
    else:
        zero = r"0(?:\.0*)?[eE][+-]?[0-9]+"
    return rf"{_BOUNDED_DECIMAL}{fixed}|{zero}|{scientific})(?!\n)$"


def _fraction(last_digit: int) -> str:
    """An optional fraction whose last non-zero digit is at most ``last_digit`` places after the point."""
    if last_digit <= 0:
        return r"(?:\.0*)?"
    return rf"(?:\.[0-9]{{0,{last_digit}}}0*)?"


def _whole(low: int, high: int) -> str:
    """Between ``low`` and ``high`` significant whole digits (leading zeros are matched before)."""
    if high == 0:
        return ""
    if low == 0:
        return rf"(?:[1-9][0-9]{{0,{high - 1}}})?"
    return rf"[1-9][0-9]{{{low - 1},{high - 1}}}"


def _fraction_room(max_digits: int | None, decimal_places: int | None, whole: int) -> int:
    """The most fraction digits a value with ``whole`` whole digits may have (both bounds given or one)."""
    rooms = [
        bound
        for bound in (decimal_places, None if max_digits is None else max_digits - whole)
        if bound is not None
    ]
    return min(rooms)


def _whole_room(max_digits: int | None, decimal_places: int | None) -> int | None:
    """The most whole digits, or None when unbounded."""
    if max_digits is None:
        return None
    return max(0, max_digits - (decimal_places or 0))


def _fixed_point(max_digits: int | None, decimal_places: int | None) -> str:
    whole_room = _whole_room(max_digits, decimal_places)
    if whole_room is None:
        return rf"(?:[1-9][0-9]*)?{_fraction(_fraction_room(None, decimal_places, 0))}"
    runs: list[tuple[int, int, int]] = []  # (fewest whole digits, most, fraction room), one per room
    for whole in range(whole_room + 1):
        room = _fraction_room(max_digits, decimal_places, whole)
        if runs and runs[-1][2] == room:
            runs[-1] = (runs[-1][0], whole, room)
        else:
            runs.append((whole, whole, room))
    if whole_room == 0:
        # No whole digit, and a zero needs a fraction digit (see decimal_pattern).
        return rf"\.(?=[0-9])[0-9]{{0,{runs[0][2]}}}0*"
    return "(?:" + "|".join(_whole(low, high) + _fraction(room) for low, high, room in runs) + ")"


def _scientific(max_digits: int | None, decimal_places: int | None) -> str:
    """``d.dddE±n`` with a non-zero leading digit, grouped by how many fraction digits fit."""
    by_room: dict[int, list[str]] = {}
    for exponent, room in _scientific_rooms(max_digits, decimal_places):
        # A zero exponent may be written "-0" too.
        written = rf"\+?0*{exponent}" if exponent > 0 else rf"-0*{-exponent}" if exponent else "[+-]?0+"
        by_room.setdefault(room, []).append(written)
    alternatives = [
        rf"[1-9]{_fraction(room)}[eE](?:{'|'.join(exponents)})" for room, exponents in by_room.items()
    ]
    if max_digits is None:
        # Only decimal_places: any larger exponent, counted by its digits.
        room = _LISTED_EXPONENTS + (decimal_places or 0)
        alternatives.append(rf"[1-9]{_fraction(room)}[eE]\+?0*[1-9][0-9]{{2,}}")
    return "(?:" + "|".join(alternatives) + ")"


def _scientific_rooms(max_digits: int | None, decimal_places: int | None) -> Iterator[tuple[int, int]]:
    """For each exponent ``n`` a valid ``d.ddd`` times ten to the ``n`` may have: how many fraction digits it may carry.

    The leading digit stands ``n`` places before the point, the last non-zero fraction digit ``j``
    places lower; then ``w = n + 1`` (or 0 when ``n < 0``) and
    ``f = max(0, j - n)``.
    """
    whole_room = _whole_room(max_digits, decimal_places)
    top = _LISTED_EXPONENTS if whole_room is None else whole_room
    for exponent in range(top):
        yield exponent, exponent + _fraction_room(max_digits, decimal_places, exponent + 1)
    below = _fraction_room(max_digits, decimal_places, 0)
    for places in range(1, below + 1):
        yield -places, below - places


def decimal_text_pattern(schema: core_schema.DecimalSchema) -> str:
    """The pattern of the texts a ``Decimal`` core schema accepts (its value, or a dict key).

    Parameters:
      schema: pydantic's core schema of the ``Decimal``, with its constraints.
    """
    pattern = decimal_pattern(schema.get("max_digits"), schema.get("decimal_places"))
    rules = _sign_rule(schema) + _range_rule(schema)
    if schema.get("allow_inf_nan") and schema.get("multiple_of") is None:
        lower = any(schema.get(key) is not None for key in ("gt", "ge"))
        upper = any(schema.get(key) is not None for key in ("lt", "le"))
        specials = special_forms(lower, upper)
        if specials:
            return f"^(?:(?:{'|'.join(specials)})(?!\\n)$|{rules}{pattern[1:]})"
    # After ^, and before any digit-count marker (which is searched for, not matched at 0).
    return "^" + rules + pattern[1:]


def _decimal_schema(schema: core_schema.DecimalSchema, number: JsonSchemaValue) -> JsonSchemaValue:
    """The ``Decimal`` schema from its core schema; ``number`` is the number branch with its bounds."""
    max_digits = schema.get("max_digits")
    decimal_places = schema.get("decimal_places")
    text: JsonSchemaValue = {"type": "string", "pattern": decimal_text_pattern(schema)}
    if max_digits is None and decimal_places is None and schema.get("multiple_of") is None:
        return {"anyOf": [number, text]}
    # Digits cannot be counted on a JSON number: integers within the whole-digit bound are exact
    # (and with multiple_of, its multiples among them, below pydantic's 28-digit quotient).
    integer: JsonSchemaValue = {**number, "type": "integer"}
    whole_room = _whole_room(max_digits, decimal_places)
    limits = [] if whole_room is None else [10**whole_room]
    multiple = _multiple_limit(schema)
    if multiple is not None:
        step, limit = multiple
        limits.append(int(limit))
        # The integers that are multiples of a/b (in lowest terms) are the multiples of a.
        numerator = Fraction(step).numerator
        if numerator > 1:
            integer["multipleOf"] = numerator
    if limits:
        bound = min(limits)
        integer["exclusiveMaximum"] = min(integer.get("exclusiveMaximum", bound), bound)
        integer["exclusiveMinimum"] = max(integer.get("exclusiveMinimum", -bound), -bound)
    return {"anyOf": [integer, text]}


def _multiple_limit(schema: core_schema.DecimalSchema) -> tuple[Decimal, Decimal] | None:
    """A ``multiple_of`` a pattern states: the step, and the bound on a multiple's magnitude; else None."""
    multiple_of = schema.get("multiple_of")
    step = None if multiple_of is None else decimal_multiple(multiple_of)
    # pydantic's quotient by the step is computed in 28 digits: a multiple stays below step * 10**28.
    return None if step is None else (step, step.scaleb(CONTEXT_DIGITS))


#: How every lookahead of :func:`_range_rule` begins (a marker for :func:`exactness_validator`).
_RANGE_RULE = "(?=(?:"


def _range_rule(schema: core_schema.DecimalSchema) -> str:
    """Lookaheads for the bounds away from zero and a ``multiple_of`` (see :mod:`actorschema.ranges`)."""
    rules = []
    for key in _ZERO_BOUNDS:
        bound: Any = schema.get(key)
        if bound is not None and bound != 0:
            rules.append(f"{_RANGE_RULE}{comparison(key, Decimal(bound))})(?!\\n)$)")
    multiple = _multiple_limit(schema)
    if multiple is not None:
        step, limit = multiple
        rules.append(f"{_RANGE_RULE}{comparison('lt', limit)})(?!\\n)$)")
        rules.append(f"{_RANGE_RULE}{comparison('gt', -limit)})(?!\\n)$)")
        rules.append(f"{_RANGE_RULE}{multiples(step)})(?!\\n)$)")
    return "".join(rules)


#: A bound at zero on a decimal string, as a lookahead on its mantissa (the digits before any
#: exponent): the sign and whether a non-zero digit is there decide it exactly. Other bounds
#: are compared digit by digit (:func:`_range_rule`).
_ZERO_BOUNDS = {
    "gt": r"(?=\+?[0-9.]*[1-9])",
    "ge": r"(?!-[0-9.]*[1-9])",
    "lt": r"(?=-[0-9.]*[1-9])",
    "le": r"(?!\+?[0-9.]*[1-9])",
}


def _sign_rule(schema: core_schema.DecimalSchema) -> str:
    """The lookaheads for the core schema's bounds that sit at zero."""
    rules = []
    for key, rule in _ZERO_BOUNDS.items():
        bound: Any = schema.get(key)
        if bound is not None and bound == 0:
            rules.append(rule)
    return "".join(rules)


class SchemaGenerator(GenerateJsonSchema):
    """pydantic's JSON Schema generator, with what changes between pydantic versions written by actorschema.

    The ``Decimal`` schema (see :func:`decimal_pattern`), and ``$ref`` with
    sibling keywords: pydantic before 2.9 wraps ``{"$ref": ..., "default": ...}``
    as ``{"allOf": [{"$ref": ...}], "default": ...}``, which means the same in
    draft 2020-12; the schemas say it the one way.
    """

    def generate(
        self, schema: core_schema.CoreSchema, mode: JsonSchemaMode = "validation"
    ) -> JsonSchemaValue:
        return typing.cast(JsonSchemaValue, _refs_unwrapped(super().generate(schema, mode)))

    def generate_definitions(
        self, inputs: Sequence[tuple[JsonSchemaKeyT, JsonSchemaMode, core_schema.CoreSchema]]
    ) -> tuple[dict[tuple[JsonSchemaKeyT, JsonSchemaMode], JsonSchemaValue], dict[DefsRef, JsonSchemaValue]]:
        by_key, definitions = super().generate_definitions(inputs)
        return _refs_unwrapped(by_key), _refs_unwrapped(definitions)

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        """A string schema, its ``pattern`` written alike for every regex dialect (:mod:`actorschema.patterns`).

        Parameters:
          schema: pydantic's core schema of the string, with its constraints.
        """
        result = super().str_schema(schema)
        pattern = result.get("pattern")
        if isinstance(pattern, str):
            translated = translate(pattern)
            if needs_send_check(pattern):
                _NARROWED_PATTERNS.add(translated)
            result["pattern"] = translated
        return result

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        """The ``Decimal`` schema: a number (see :func:`_decimal_schema`) or a decimal string.

        Parameters:
          schema: pydantic's core schema of the ``Decimal``, with its constraints.
        """
        if self.mode != "validation":
            # What the serializer writes: str(value), so the same text pattern.
            if schema.get("allow_inf_nan"):
                specials = "|".join(SPECIAL_FORMS.values())
                return {"type": "string", "pattern": f"^(?:(?:{specials})(?!\\n)$|{DECIMAL_PATTERN[1:]})"}
            return {"type": "string", "pattern": decimal_pattern(None, None)}

        def bound(key: str) -> float | None:
            value: Any = schema.get(key)
            return None if value is None else float(value)

        number = self.float_schema(
            core_schema.float_schema(
                allow_inf_nan=False,
                le=bound("le"),
                ge=bound("ge"),
                lt=bound("lt"),
                gt=bound("gt"),
            )
        )
        return _decimal_schema(schema, number)


#: Translated patterns that refuse text pydantic accepts (``^[0-9]+$`` from ``^\\d+$``): send checks them.
_NARROWED_PATTERNS: set[str] = set()
#: Formats whose text pydantic writes for values no ``format`` checker accepts (a scoped ``fe80::1%eth0``).
_SEND_FORMATS = frozenset({"ipv6", "ipvanyaddress"})


def _refs_unwrapped(node: Any) -> Any:
    """``node`` with each ``{"allOf": [{"$ref": r}], **rest}`` written ``{"$ref": r, **rest}``."""
    if isinstance(node, list):
        return [_refs_unwrapped(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _refs_unwrapped(value) for key, value in node.items()}
    all_of = node.get("allOf")
    if (
        isinstance(all_of, list)
        and len(all_of) == 1
        and isinstance(all_of[0], dict)
        and list(all_of[0]) == ["$ref"]
        and "$ref" not in node
    ):
        del node["allOf"]
        node = {"$ref": all_of[0]["$ref"], **node}
    return node


def exactness_validator(adapter: TypeAdapter[Any]) -> Any:
    """A ``jsonschema`` validator of ``adapter``'s schema where send must check what pydantic does not, else None.

    Two places: a ``multipleOf`` that may apply to a non-integer (pydantic has a
    tolerance, JSON Schema's division has none), and a ``Decimal`` with
    ``max_digits`` / ``decimal_places`` (pydantic before 2.14 rounds the value to
    its context's 28 digits before counting, and takes a 57-digit value for
    ``max_digits=5``; the schema counts every digit written). A URL, whose
    text pydantic writes with characters RFC 3986 forbids (``|``, ``^``...).
    And a ``Decimal`` with bounds or a step published as patterns (:func:`_range_rule`),
    checked only on long text (:class:`_LongTextsOnly`).

    Parameters:
      adapter: A parameter's pydantic validator.
    """
    try:
        schema = adapter.json_schema(ref_template="#/$defs/{model}", schema_generator=SchemaGenerator)
    except Exception:
        # No JSON Schema, nothing to agree with: the schema generator reports the hint.
        return None
    if not any_node(schema, _send_checks):
        return None
    only_ranges = not any_node(schema, _other_send_checks)
    schema = _exact_forms(schema)
    # Imported here: only actors with such a parameter need jsonschema in a producer.
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

    from .formats import FORMAT_CHECKER

    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    return _LongTextsOnly(validator) if only_ranges else validator


class _LongTextsOnly:
    """The send check of a schema whose only send-side rules are ``Decimal`` bounds and steps.

    pydantic and those patterns part only on long text: an exponent of 19 digits
    or more (which the patterns refuse), or a value of more than 28 significant
    digits that pydantic rounds into a multiple. A value with no text longer
    than :data:`_SHORT` characters (``str(Decimal)`` of up to 20 characters has
    at most 20 digits and a 17-digit exponent) needs no check: the validator
    runs only on the others, so the common send pays nothing for it.

    Parameters:
      validator: The parameter schema's ``jsonschema`` validator.
    """

    def __init__(self, validator: Any) -> None:
        self.validator = validator

    def iter_errors(self, value: Any) -> Iterator[Any]:
        """The validator's errors for ``value``, or none when it holds no long text.

        Parameters:
          value: The JSON form the send side is about to store.
        """
        if not _has_long_text(value):
            return iter(())
        return typing.cast(Iterator[Any], self.validator.iter_errors(value))


#: The longest text on which a Decimal's bounds and steps cannot part from pydantic's verdict.
_SHORT = 20


def _has_long_text(value: Any) -> bool:
    """Whether ``value`` holds a string (a dict key too) longer than :data:`_SHORT`."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) > _SHORT:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _send_checks(node: dict[str, Any]) -> bool:
    pattern = node.get("pattern")
    return (isinstance(pattern, str) and _RANGE_RULE in pattern) or _other_send_checks(node)


def _other_send_checks(node: dict[str, Any]) -> bool:
    pattern = node.get("pattern")
    return (
        _float_multiple(node)
        or (isinstance(pattern, str) and _BOUNDED_DECIMAL[1:] in pattern)
        or node.get("format") == "uri"
        or node.get("format") in _SEND_FORMATS
        or pattern in _NARROWED_PATTERNS
    )


def _exact_forms(node: Any) -> Any:
    """``node`` with each string ``format`` as published (:func:`~actorschema.formats.exact_string_form`)."""
    if isinstance(node, list):
        return [_exact_forms(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _exact_forms(value) for key, value in node.items()}
    if node.get("type") == "string" and "format" in node:
        node = exact_string_form(node)
    return node


def _float_multiple(node: dict[str, Any]) -> bool:
    return "multipleOf" in node and node.get("type") != "integer"


def any_node(schema: Any, test: Callable[[dict[str, Any]], bool]) -> bool:
    """Whether ``test`` holds for any object node of a JSON Schema, at any depth.

    Parameters:
      schema: A JSON Schema (dicts and lists, as generated).
      test: Asked of each object node.
    """
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if test(node):
                return True
            stack.extend(node.values())
    return False


def has_float_multiple(schema: Any) -> bool:
    """True when ``schema`` has a ``multipleOf`` that may apply to a non-integer number.

    There pydantic (a tolerance), ``jsonschema`` and ajv (an integral quotient
    in binary floating point) and jsonschema-rs (which takes ``0.3`` for a
    multiple of ``0.1``) disagree; actorschema follows ``jsonschema`` and ajv.

    Parameters:
      schema: A JSON Schema, with its ``$defs`` inside.
    """
    return any_node(schema, _float_multiple)


def exactness_violations(validator: Any, value: Any, path: Path, what: Callable[[], str]) -> list[Violation]:
    """What :func:`exactness_validator`'s schema refuses in a value pydantic accepted, with paths.

    Parameters:
      validator: From :func:`exactness_validator`.
      value: The JSON form the send side is about to store.
      path: Where the value sits in the message.
      what: Says what to send instead, for the message (called only on a refusal: it costs a
        hint's rendering, which every send would otherwise pay).
    """
    violations = []
    errors = list(validator.iter_errors(value))
    hint = what() if errors else ""
    for error in errors:
        for leaf in _leaves(error):
            where = render_path((*path, *leaf.absolute_path))
            if leaf.validator == "multipleOf":
                divisor = leaf.validator_value
                problem = (
                    f"is not a multiple of {divisor!r} as JSON Schema validators compute it: "
                    f"{leaf.instance!r} / {divisor!r} is not a whole number in binary floating point"
                )
                suggestion = (
                    f"{hint} whose quotient by {divisor!r} is exact, or declare a Decimal with "
                    "decimal_places (or an int count of the unit) instead"
                )
                violations.append(Violation(where, problem, suggestion))
            elif leaf.validator == "pattern" and _RANGE_RULE in str(leaf.validator_value):
                # pydantic accepted it: only its rounding (multiple_of in 28 digits) or an exponent
                # beyond 18 digits gets here.
                problem = (
                    f"{leaf.instance!r} is not a decimal the published schema accepts: its bounds and "
                    "multiple_of are read from the text's digits, exactly (pydantic rounds to 28 digits "
                    "first), with exponents of at most 18 digits"
                )
                suggestion = f"{hint} within its bounds, rounded to its multiple_of (value.quantize(...))"
                violations.append(Violation(where, problem, suggestion))
            elif leaf.validator == "pattern" and _BOUNDED_DECIMAL[1:] in str(leaf.validator_value):
                problem = f"{leaf.instance!r} has more digits than its max_digits / decimal_places allow"
                suggestion = f"{hint}, rounded first (e.g. value.quantize(Decimal('0.01')))"
                violations.append(Violation(where, problem, suggestion))
            elif leaf.validator == "pattern" and leaf.validator_value in _NARROWED_PATTERNS:
                problem = (
                    f"{leaf.instance!r} does not match {leaf.validator_value!r}, the declared pattern as "
                    "every JSON Schema validator reads it (\\d as [0-9], \\w as [A-Za-z0-9_], . without "
                    "line terminators)"
                )
                suggestion = f"{hint} matching the pattern with ASCII digits and letters"
                violations.append(Violation(where, problem, suggestion))
            elif leaf.validator == "format" and leaf.validator_value in ("ipv4", "ipv6"):
                problem = (
                    f"{leaf.instance!r} is not an {leaf.validator_value} address the published schema accepts"
                )
                violations.append(Violation(where, problem, WHAT_TO_SEND[leaf.validator_value]))
            elif leaf.validator == "format" and leaf.validator_value == "uri":
                problem = (
                    f"is the URL {leaf.instance!r} as pydantic writes it, which is not an RFC 3986 URI "
                    "that the published schema, every validator and the worker accept"
                )
                violations.append(Violation(where, problem, WHAT_TO_SEND["uri"]))
    return violations


def _leaves(error: Any) -> Iterator[Any]:
    if error.context:
        for child in error.context:
            yield from _leaves(child)
    else:
        yield error
