"""How a bound or an assertion moved: numeric bounds, lengths and item counts, ``multipleOf``, patterns and formats.

A tighter bound breaks backward (queued messages may be outside it), a looser
one forward; on whole numbers, ``exclusiveMinimum: 0.5`` and ``minimum: 1``
are the same bound and compare equal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from .normalize import Unclassifiable, show
from .rules import BACKWARD, BOTH, FORWARD, Found

__all__ = [
    "Bound",
    "assertion_change",
    "at_least",
    "at_most",
    "bound_change",
    "lower_bound",
    "max_items",
    "multiple_change",
    "upper_bound",
]


Bound = tuple[Any, bool] | None  # (value, exclusive); None: unbounded


def _number(value: Any, keyword: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unclassifiable(f"{keyword} is not a number: {value!r}")
    return value


def lower_bound(schema: Mapping[str, Any], integral: bool) -> Bound:
    """The tightest of ``minimum`` and ``exclusiveMinimum``; on whole numbers, as an inclusive bound."""
    return _tightest(schema, "minimum", "exclusiveMinimum", integral, lower=True)


def upper_bound(schema: Mapping[str, Any], integral: bool) -> Bound:
    """The tightest of ``maximum`` and ``exclusiveMaximum``; on whole numbers, as an inclusive bound."""
    return _tightest(schema, "maximum", "exclusiveMaximum", integral, lower=False)


def _tightest(
    schema: Mapping[str, Any], inclusive: str, exclusive: str, integral: bool, *, lower: bool
) -> Bound:
    bounds = [
        (_number(schema[key], key), strict)
        for key, strict in ((inclusive, False), (exclusive, True))
        if key in schema
    ]
    if not bounds:
        return None
    # At the same value the exclusive bound is the tighter one, from either side.
    value, strict = max(bounds) if lower else min(bounds, key=lambda b: (b[0], not b[1]))
    if not integral:
        return value, strict
    if lower:
        return (math.floor(value) + 1 if strict else math.ceil(value)), False
    return (math.ceil(value) - 1 if strict else math.floor(value)), False


def at_least(schema: Mapping[str, Any], keyword: str) -> Bound:
    """A lower count (``minLength``, ``minItems``...); 0 is no bound."""
    value = _number(schema.get(keyword, 0), keyword)
    return (value, False) if value > 0 else None


def at_most(schema: Mapping[str, Any], keyword: str) -> Bound:
    """An upper count (``maxLength``, ``maxProperties``...)."""
    return (_number(schema[keyword], keyword), False) if keyword in schema else None


def max_items(schema: Mapping[str, Any]) -> float:
    """How many items an array may have: ``maxItems``, or its ``prefixItems`` when ``items`` is false."""
    limit: float = _number(schema.get("maxItems", math.inf), "maxItems")
    if schema.get("items", True) is False:
        limit = min(limit, len(schema.get("prefixItems", [])))
    return limit


def bound_change(path: str, what: str, old: Bound, new: Bound, lower: bool) -> list[Found]:
    """A lower (``lower=True``) or upper bound that moved: tighter breaks backward, looser forward."""
    if old == new:
        return []

    def tighter(a: Bound, b: Bound) -> bool:  # is a stricter than b?
        if a is None:
            return False
        if b is None:
            return True
        if a[0] != b[0]:
            return bool(a[0] > b[0]) if lower else bool(a[0] < b[0])
        return a[1] and not b[1]

    def shown(bound: Bound) -> str:
        if bound is None:
            return "none"
        sign = (">" if bound[1] else ">=") if lower else ("<" if bound[1] else "<=")
        return f"{sign} {bound[0]}"

    detail = f"{what} {shown(old)} -> {shown(new)}"
    if tighter(new, old):
        return [Found("CONSTRAINT_TIGHTENED", path, detail, BACKWARD)]
    if tighter(old, new):
        return [Found("CONSTRAINT_LOOSENED", path, detail, FORWARD)]
    return []


def multiple_change(path: str, old: Any, new: Any, integral: bool) -> list[Found]:
    """``multipleOf`` moved: a multiple of the old step is looser, a divisor of it tighter."""
    if integral:
        old, new = (None if v == 1 else v for v in (old, new))
    if old == new:
        return []
    detail = f"multipleOf {old} -> {new}"
    if old is None or new is None:
        return _set_or_unset(path, detail, old)
    ratio = Fraction(str(_number(old, "multipleOf"))) / Fraction(str(_number(new, "multipleOf")))
    if ratio.denominator == 1:  # every multiple of old is a multiple of new
        return [Found("CONSTRAINT_LOOSENED", path, detail, FORWARD)]
    if ratio.numerator == 1:
        return [Found("CONSTRAINT_TIGHTENED", path, detail, BACKWARD)]
    return [Found("CONSTRAINT_CHANGED", path, detail, BOTH)]


def assertion_change(path: str, keyword: str, old: Any, new: Any) -> list[Found]:
    """A pattern or format: added is tighter, removed looser, replaced is both (unknowable)."""
    if old == new:
        return []
    detail = f"{keyword} {show(old)} -> {show(new)}"
    if old is None or new is None:
        return _set_or_unset(path, detail, old)
    return [Found("CONSTRAINT_CHANGED", path, detail, BOTH)]


def _set_or_unset(path: str, detail: str, old: Any) -> list[Found]:
    """A constraint that one side lacks: added (no ``old``) is tighter, removed looser."""
    if old is None:
        return [Found("CONSTRAINT_TIGHTENED", path, detail, BACKWARD)]
    return [Found("CONSTRAINT_LOOSENED", path, detail, FORWARD)]
