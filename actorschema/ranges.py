"""Decimal text compared with a constant, as a regular expression: how a ``Decimal`` bound is published.

A ``Decimal`` travels as text (``"9.99"``, ``"1.5E+3"``), and no JSON Schema
keyword compares text as a number. A pattern can, digit by digit, for the
texts whose place value it can read: :func:`comparison` writes, for a bound
``b`` and an operator (``gt``, ``ge``, ``lt``, ``le``), the regular expression
that matches exactly the decimal texts of :data:`DECIMAL_FORM` whose value
satisfies it. Regular expressions cannot relate a count of digits to the
value of an exponent (``0.000…1E+n`` against ``1``), so the form is narrowed
to what can be read: fixed-point text (any sign, leading and trailing zeros)
and Python's scientific form, one non-zero digit before the point
(``1.25E+3``, ``-5E-7``; ``0E+2`` or ``0.00E-7`` for a zero), exponents of up to 18 digits
(``Decimal`` refuses larger ones). That is every text ``str(Decimal)`` writes,
so everything ``send()`` stores; a producer that writes ``12.5E+2`` is refused
with the pattern, the worker refuses it too (it applies the schema).

Only ``[0-9]``-style classes, groups, alternation and counted repetition are
used: ECMA-262 (ajv), Python's ``re`` (``jsonschema``) and Rust's ``regex``
(jsonschema-rs) read them alike.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["DECIMAL_FORM", "SPECIAL_FORMS", "comparison", "decimal_multiple", "float_exact", "special_forms"]

#: Exponents of up to 18 digits: ``Decimal("1E+999999999999999999")`` is the largest it reads.
_EXPONENT_DIGITS = 18
_EXPONENT = rf"0*[0-9]{{1,{_EXPONENT_DIGITS}}}"
_FIXED = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)"
_SCIENTIFIC = rf"[1-9](?:\.[0-9]*)?[eE][+-]?{_EXPONENT}"
_ZERO_SCIENTIFIC = rf"0(?:\.0*)?[eE][+-]?{_EXPONENT}"
#: Any magnitude (the text after its sign) of :data:`DECIMAL_FORM`.
_MAGNITUDE = f"(?:{_FIXED}|{_SCIENTIFIC}|{_ZERO_SCIENTIFIC})"

#: The finite decimal texts a bound can be read from (unanchored).
DECIMAL_FORM = rf"[+-]?{_MAGNITUDE}"

#: pydantic's ``allow_inf_nan`` texts, as Python's ``Decimal`` reads them (any case, a NaN's payload).
SPECIAL_FORMS = {
    "nan": r"[+-]?[sS]?[nN][aA][nN][0-9]*",
    "+inf": r"\+?[iI][nN][fF](?:[iI][nN][iI][tT][yY])?",
    "-inf": r"-[iI][nN][fF](?:[iI][nN][iI][tT][yY])?",
}

_FLIPPED = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


def comparison(operator: str, bound: Decimal) -> str:
    """The texts of :data:`DECIMAL_FORM` whose value is ``operator`` ``bound`` (unanchored).

    Parameters:
      operator: ``"gt"``, ``"ge"``, ``"lt"`` or ``"le"``, as pydantic names them.
      bound: A finite decimal.
    """
    # A text is a sign and a magnitude m >= 0: "+m op b" is "m op b", "-m op b" is "m op' -b".
    positive = _magnitude(operator, bound)
    negative = _magnitude(_FLIPPED[operator], -bound)
    found = _either([_joined(r"\+?", positive), _joined("-", negative)])
    assert found is not None, "every bound has texts on one side of it at least"
    return found


def special_forms(lower: bool, upper: bool) -> list[str]:
    """The ``allow_inf_nan`` texts within the bounds: NaN in none, each infinity past its side's bound.

    Parameters:
      lower: Whether there is a ``gt`` / ``ge`` bound.
      upper: Whether there is a ``lt`` / ``le`` bound.
    """
    if lower and upper:
        return []
    if lower:
        return [SPECIAL_FORMS["+inf"]]
    if upper:
        return [SPECIAL_FORMS["-inf"]]
    return list(SPECIAL_FORMS.values())


def decimal_multiple(multiple_of: Any) -> int | None:
    """The places of a ``Decimal`` ``multiple_of`` that is ``10**-places`` (0.01: 2, 1: 0); else None.

    pydantic checks ``multiple_of`` as ``(value / multiple_of) % 1 == 0`` in the
    default decimal context (28 digits): for a power of ten up to 1 that is
    exactly "no digit below it, and the quotient under ``10**28``", which a
    pattern states (:mod:`actorschema.numbers`). Other steps (``0.05``) depend on the
    digit at a place that Python's scientific form moves with its exponent.

    Parameters:
      multiple_of: The constraint as declared (a Decimal, int or float).
    """
    try:
        step = Decimal(multiple_of)
    except (TypeError, ValueError, ArithmeticError):
        return None
    if not step.is_finite() or step <= 0:
        return None
    digits = "".join(map(str, step.as_tuple().digits)).strip("0")
    places = -step.adjusted()
    if digits != "1" or places < 0:
        return None
    return places


def float_exact(bound: Any) -> bool:
    """Whether a JSON number compared with ``bound`` as a float gets the verdict pydantic's Decimal gets.

    The worker reads a JSON number as a float and hands pydantic its shortest
    text (``repr``); validators compare the float with the bound as written in
    the schema, a float too. The two agree when the bound is a float that
    ``repr`` writes as the bound itself: ``Decimal("0.01")`` or ``10000``, not
    the float ``9.99`` (exactly ``9.9900000000000002131...``) nor a bound of
    more than 17 significant digits. Between floats ``x`` and that bound, the
    ordering of ``x`` and of ``repr(x)`` is then the same.

    Parameters:
      bound: A ``gt`` / ``ge`` / ``lt`` / ``le`` as declared (int, float or Decimal).
    """
    try:
        exact = Decimal(bound)
        return exact.is_finite() and Decimal(repr(float(exact))) == exact
    except (TypeError, ValueError, ArithmeticError, OverflowError):
        return False


def _either(alternatives: list[str | None]) -> str | None:
    """One regex for any of ``alternatives`` (None: matches nothing)."""
    present = [item for item in alternatives if item is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return "(?:" + "|".join(present) + ")"


def _magnitude(operator: str, bound: Decimal) -> str | None:
    """Magnitudes ``m`` (texts without a sign) with ``m operator bound``; None for none."""
    if bound < 0:
        # Every magnitude is above a negative bound, none below it.
        return _MAGNITUDE if operator in ("gt", "ge") else None
    if operator == "ge":
        return _either([_greater(bound), _equal(bound)])
    if operator == "le":
        return _either([_less(bound), _equal(bound)])
    return _greater(bound) if operator == "gt" else _less(bound)


def _digits(bound: Decimal) -> tuple[str, int]:
    """A positive bound's significant digits (no trailing zeros) and the place of its first one."""
    digits = "".join(map(str, bound.as_tuple().digits)).lstrip("0")
    exponent = int(bound.as_tuple().exponent)
    significant = digits.rstrip("0")
    return significant, exponent + len(digits) - 1


def _split(bound: Decimal) -> tuple[str, str]:
    """The bound's fixed-point whole digits (without leading zeros) and fraction digits (no trailing zeros)."""
    digits, place = _digits(bound)
    whole = max(place + 1, 0)
    if whole:
        return digits[:whole].ljust(whole, "0"), digits[whole:]
    return "", "0" * (-place - 1) + digits


def _greater(bound: Decimal) -> str | None:
    """Magnitudes above ``bound`` (>= 0)."""
    if bound == 0:
        return rf"(?:0*[1-9][0-9]*\.?[0-9]*|0*\.0*[1-9][0-9]*|{_SCIENTIFIC})"
    whole, fraction = _split(bound)
    digits, place = _digits(bound)
    width = len(whole)
    fixed = [
        # More whole digits, or as many and larger ones, or the same and a larger fraction.
        rf"0*[1-9][0-9]{{{width},}}(?:\.[0-9]*)?",
        None if not whole else _joined("0*", _same_length(whole, ">"), r"(?:\.[0-9]*)?"),
        _joined(f"0*{whole}\\.", _fraction_above(fraction)),
    ]
    head = _either(
        [
            None if digits[0] == "9" else f"[{int(digits[0]) + 1}-9](?:\\.[0-9]*)?",
            _joined(f"{digits[0]}\\.", _fraction_above(digits[1:])),
        ]
    )
    scientific = [
        rf"[1-9](?:\.[0-9]*)?[eE]{_exponent(place, '>')}",
        _joined(head, "[eE]", _exponent(place, "=")),
    ]
    return _either(fixed + scientific)


def _less(bound: Decimal) -> str | None:
    """Magnitudes below ``bound`` (>= 0): zero among them."""
    if bound == 0:
        return None
    whole, fraction = _split(bound)
    digits, place = _digits(bound)
    width = len(whole)
    fixed: list[str | None]
    if whole:
        fixed = [
            # Fewer whole digits (leading zeros counted: "052" against "500" is read below),
            # as many and smaller ones, or the same and a smaller fraction.
            None if width < 2 else rf"[0-9]{{1,{width - 1}}}(?:\.[0-9]*)?",
            r"\.[0-9]+",
            _joined("0*", _same_length(whole, "<"), r"(?:\.[0-9]*)?"),
            None
            if not fraction
            else _joined(f"0*{whole}(?:\\.", _fraction_below(fraction, empty=True), ")?"),
        ]
    else:
        # Below 1: the whole part is zeros; the fraction decides (and there must be a digit).
        fixed = [
            _joined(r"0+(?:\.", _fraction_below(fraction, empty=True), ")?"),
            _joined(r"0*\.", _fraction_below(fraction, empty=False)),
        ]
    head = _either(
        [
            None if digits[0] == "1" else f"[1-{int(digits[0]) - 1}](?:\\.[0-9]*)?",
            None
            if len(digits) == 1
            else _joined(f"{digits[0]}(?:\\.", _fraction_below(digits[1:], empty=True), ")?"),
        ]
    )
    scientific = [
        _joined(r"[1-9](?:\.[0-9]*)?[eE]", _exponent(place, "<")),
        _joined(head, "[eE]", _exponent(place, "=")),
        _ZERO_SCIENTIFIC,
    ]
    return _either(fixed + scientific)


def _equal(bound: Decimal) -> str:
    """Magnitudes equal to ``bound`` (>= 0): every spelling of it."""
    if bound == 0:
        return rf"(?:0+\.?0*|\.0+|{_ZERO_SCIENTIFIC})"
    whole, fraction = _split(bound)
    digits, place = _digits(bound)
    fixed = f"0*{whole}\\.{fraction}0*" if fraction else f"0*{whole}(?:\\.0*)?"
    mantissa = f"{digits[0]}\\.{digits[1:]}0*" if len(digits) > 1 else f"{digits[0]}(?:\\.0*)?"
    return f"(?:{fixed}|{mantissa}[eE]{_exponent(place, '=')})"


def _joined(*parts: str | None) -> str | None:
    """The parts in sequence; None (nothing) if any part matches nothing."""
    if any(part is None for part in parts):
        return None
    return "".join(part for part in parts if part is not None)


def _same_length(digits: str, order: str) -> str | None:
    """Digit strings as long as ``digits``, above (``">"``) or below (``"<"``) it."""
    if not digits:
        return None
    first, rest = int(digits[0]), digits[1:]
    if order == ">":
        step = None if first == 9 else f"[{first + 1}-9]"
    else:
        step = None if first == 0 else f"[0-{first - 1}]"
    tail = f"[0-9]{{{len(rest)}}}" if rest else ""
    return _either([_joined(step, tail), _joined(digits[0], _same_length(rest, order))])


def _fraction_above(fraction: str) -> str | None:
    """Fraction digits (any count) whose value as ``0.ddd`` is above ``0.fraction``."""
    if not fraction:
        return "0*[1-9][0-9]*"
    first = int(fraction[0])
    return _either(
        [
            None if first == 9 else f"[{first + 1}-9][0-9]*",
            _joined(fraction[0], _fraction_above(fraction[1:])),
        ]
    )


def _fraction_below(fraction: str, *, empty: bool) -> str | None:
    """Fraction digits below ``0.fraction`` (which ends in a non-zero digit); ``empty``: none at all too."""
    if not fraction:
        return None  # nothing is below zero
    first = int(fraction[0])
    alternatives = [
        "" if empty else None,
        None if first == 0 else f"[0-{first - 1}][0-9]*",
        _joined(fraction[0], _fraction_below(fraction[1:], empty=True)),
    ]
    present = [item for item in alternatives if item is not None]
    if not present:
        return None
    return "(?:" + "|".join(present) + ")"


def _exponent(place: int, order: str) -> str | None:
    """Exponent texts (sign, leading zeros) whose value is above (``">"``), equal to or below ``place``."""
    magnitude = abs(place)
    if order == "=":
        if place == 0:
            return "[+-]?0+"
        return (r"\+?" if place > 0 else "-") + f"0*{magnitude}"
    if order == ">":
        if place >= 0:
            return _joined(r"\+?", _whole_above(magnitude))
        return _either([rf"\+?{_EXPONENT}", _joined("-", _whole_below(magnitude))])
    if place > 0:
        return _either([_joined(r"\+?", _whole_below(magnitude)), f"-{_EXPONENT}"])
    return _joined("-", _whole_above(magnitude))


def _whole_above(number: int) -> str | None:
    """Unsigned integer texts (leading zeros, up to 18 digits) above ``number``."""
    text = str(number)
    longer = None if len(text) >= _EXPONENT_DIGITS else rf"[1-9][0-9]{{{len(text)},{_EXPONENT_DIGITS - 1}}}"
    return _joined("0*", _either([longer, _same_length(text, ">")]))


def _whole_below(number: int) -> str | None:
    """Unsigned integer texts (leading zeros) below ``number``."""
    if number == 0:
        return None
    text = str(number)
    shorter = None if len(text) == 1 else rf"[0-9]{{1,{len(text) - 1}}}"
    return _joined("0*", _either([shorter, _same_length(text, "<")]))
