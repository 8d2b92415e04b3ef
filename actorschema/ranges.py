"""Decimal text compared with a constant, as a regular expression: how ``Decimal`` bounds and steps are published.

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
:func:`multiples` states a ``multiple_of`` the same way where the last digits
decide it (:func:`decimal_multiple`), and :data:`SPECIAL_FORMS` the texts of
``allow_inf_nan``.

Only ``[0-9]``-style classes, groups, alternation and counted repetition are
used: ECMA-262 (ajv), Python's ``re`` (``jsonschema``) and Rust's ``regex``
(jsonschema-rs) read them alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

__all__ = [
    "CONTEXT_DIGITS",
    "DECIMAL_FORM",
    "SPECIAL_FORMS",
    "comparison",
    "decimal_multiple",
    "float_exact",
    "multiples",
    "special_forms",
]

#: Exponents of up to 18 digits: ``Decimal("1E+999999999999999999")`` is the largest it reads.
_EXPONENT_DIGITS = 18
_EXPONENT = rf"0*[0-9]{{1,{_EXPONENT_DIGITS}}}"
_FIXED = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
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


#: The steps' significant digits a pattern states: those dividing 100, whose multiples the last
#: one or two digits decide (``0.05``: the hundredths digit is 0 or 5).
_STEPS = {"1": 1, "2": 1, "5": 1, "4": 2, "25": 2}
#: pydantic divides by ``multiple_of`` in the default decimal context: a quotient of 28 digits at most.
CONTEXT_DIGITS = 28


def decimal_multiple(multiple_of: Any) -> Decimal | None:
    """The ``multiple_of`` of a ``Decimal`` as a pattern can state it, or None where none can.

    pydantic checks it as ``(value / multiple_of) % 1 == 0`` in the default
    decimal context (28 digits). For a step ``d * 10**k`` with ``d`` one of 1,
    2, 4, 5, 25 (``0.01``, ``0.05``, ``0.25``, ``0.4``, ``1``, ``5``, ``20``...)
    that is exactly: no non-zero digit below the place ``k``, the one or two
    digits from ``k`` up a multiple of ``d``, and the quotient below ``10**28``
    (:func:`multiples`). Other steps (``0.03``, ``0.125``, the float ``0.05``,
    which is ``0.05000000000000000277...``) depend on every digit.

    Parameters:
      multiple_of: The constraint as declared (a Decimal, int or float).
    """
    try:
        step = Decimal(multiple_of)
    except (TypeError, ValueError, ArithmeticError):
        return None
    if not step.is_finite() or step <= 0:
        return None
    digits, _ = _digits(step)
    return step if digits in _STEPS else None


def multiples(step: Decimal) -> str:
    """The texts of :data:`DECIMAL_FORM` that are multiples of ``step`` (from :func:`decimal_multiple`), unanchored.

    Exact for values below ``step * 10**28`` (which pydantic's check requires:
    the caller bounds them with :func:`comparison`); scientific text is listed
    exponent by exponent up to there.

    Parameters:
      step: A step :func:`decimal_multiple` returned.
    """
    digits, place = _digits(step)
    ending = _Ending(int(digits), _STEPS[digits])
    low = place - len(digits) + 1  # the place of the step's last digit
    alternatives: list[str | None] = [ending.fixed(low)]
    for exponent in range(low, low + CONTEXT_DIGITS + len(digits) + 1):
        # The leading digit stands at the exponent's place: the step's last digit is low - exponent from it.
        alternatives.append(_joined(ending.scientific(low - exponent), "[eE]", _exponent(exponent, "=")))
    alternatives.append(_ZERO_SCIENTIFIC)
    found = _either(alternatives)
    assert found is not None, "zero is a multiple of every step"
    return f"[+-]?{found}"


class _Ending:
    """The last one or two digits (from the step's place up) that make a multiple of ``divisor``.

    Parameters:
      divisor: The step's significant digits (1, 2, 4, 5 or 25).
      width: How many digits decide (1, or 2 for 4 and 25).
    """

    def __init__(self, divisor: int, width: int) -> None:
        self.width = width
        by_high: dict[str, set[str]] = {}
        for number in range(0, 10**width, divisor):
            text = str(number).zfill(width)
            by_high.setdefault(text[:-1], set()).add(text[-1])
        # (the digits before the last that share them, the last digits): "" before for one digit.
        groups: dict[frozenset[str], set[str]] = {}
        for high, lows in by_high.items():
            groups.setdefault(frozenset(lows), set()).update(high)
        self.groups = sorted((frozenset(highs), lows) for lows, highs in groups.items())
        #: Last digits allowed when the digit before them is 0 (or missing).
        self.after_zero = frozenset(by_high["0" * (width - 1)])

    def full(self) -> str:
        """Both digits present (or the one)."""
        return (
            _either([_class(highs) + _class(lows) if highs else _class(lows) for highs, lows in self.groups])
            or ""
        )

    def high_only(self) -> str | None:
        """The digit before the last, the last one not written (a zero): two-digit endings only."""
        if self.width == 1:
            return None
        highs = frozenset().union(*(highs for highs, lows in self.groups if "0" in lows))
        return _class(highs)

    def fraction(self, free: int) -> str:
        """The point and fraction: ``free`` digits, then the ending, then zeros; cut short anywhere."""
        endings = _either([self.full(), self.high_only()])
        return rf"(?:\.(?:[0-9]{{0,{free}}}|[0-9]{{{free}}}{endings})0*)?"

    def fixed(self, low: int) -> str | None:
        """Fixed-point multiples whose step's last digit is at place ``low``."""
        if low <= -self.width:
            return "[0-9]*" + self.fraction(-low - self.width)
        if low >= 0:
            # Whole digits end in the ending and low zeros; or are zeros only. No fraction but zeros.
            shorter = None if self.width == 1 else _class(self.after_zero)
            whole = _either([f"[0-9]*{self.full()}", shorter])
            zeros = f"0{{{low}}}" if low else ""
            return f"(?:{whole}{zeros}|0{{0,{low}}})" + r"(?:\.0*)?"
        # Two digits across the point: the last whole digit and the first fraction digit.
        return self._across("[0-9]*", optional_whole=True)

    def scientific(self, low: int) -> str | None:
        """Python's scientific mantissa (one non-zero digit, its place 0) with the step's last digit at ``low``."""
        if low <= -self.width:
            return "[1-9]" + self.fraction(-low - self.width)
        if low > 0:
            return None  # the leading digit would have to be a zero
        if low == 0:
            lead = self.after_zero - {"0"}
            return _class(lead) + r"(?:\.0*)?" if lead else None
        return self._across("", optional_whole=False)

    def _across(self, before: str, *, optional_whole: bool) -> str | None:
        """The ending's first digit at place 0, its last at place -1."""
        alternatives = []
        for highs, lows in self.groups:
            lead = highs if optional_whole else highs - {"0"}
            if not lead:
                continue
            whole = before + _class(lead)
            if optional_whole and "0" in highs:
                whole = f"(?:{whole})?"
            digit = _class(lows)
            fraction = rf"(?:\.(?:{digit}0*)?)?" if "0" in lows else rf"\.{digit}0*"
            alternatives.append(whole + fraction)
        return _either(alternatives)


def _class(digits: frozenset[str] | set[str]) -> str:
    """A character class for a set of digits."""
    if len(digits) == 10:
        return "[0-9]"
    if len(digits) == 1:
        return next(iter(digits))
    ordered = "".join(sorted(digits))
    if ordered == "123456789":
        return "[1-9]"
    return f"[{ordered}]"


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


def _either(alternatives: Sequence[str | None]) -> str | None:
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
        return rf"(?:0*[1-9][0-9]*(?:\.[0-9]*)?|0*\.0*[1-9][0-9]*|{_SCIENTIFIC})"
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
        return rf"(?:0+(?:\.0*)?|\.0+|{_ZERO_SCIENTIFIC})"
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
