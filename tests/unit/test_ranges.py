"""Decimal text compared with a bound by a regular expression: exact, and read alike by every validator.

The oracle is Python's ``Decimal`` arithmetic on the text; the regexes are run by
Python's ``re`` (``jsonschema``), jsonschema-rs (Rust, the worker's fast engine)
and ajv (ECMA-262 with the ``u`` flag, through the Node oracle).
"""

from __future__ import annotations

import operator
import random
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

import jsonschema_rs
import pytest
from helpers.node import run_ajv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actorschema.ranges import (
    CONTEXT_DIGITS,
    DECIMAL_FORM,
    SPECIAL_FORMS,
    comparison,
    decimal_multiple,
    float_exact,
    multiples,
)

OPERATORS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
FORM = re.compile(DECIMAL_FORM)
CHECKS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bounds() -> st.SearchStrategy[Decimal]:
    """Bounds of any sign, with few or many digits, around zero and far from it."""
    scaled = st.builds(
        lambda coefficient, exponent: Decimal(coefficient).scaleb(exponent),
        st.integers(-(10**6), 10**6) | st.sampled_from([1, -1, 9, 99, 10, 100, 19, 5]),
        st.integers(-8, 8),
    )
    return scaled | st.sampled_from([Decimal("0"), Decimal("0.01"), Decimal("10000"), Decimal("9.99")])


def texts(near: Decimal | None = None) -> st.SearchStrategy[str]:
    """Decimal texts: fixed-point with leading and trailing zeros, Python's scientific form, near misses."""
    digits = st.text("0123456789", max_size=6)
    fixed = st.builds(
        lambda sign, zeros, whole, dot, fraction, exponent: f"{sign}{zeros}{whole}{dot}{fraction}{exponent}",
        st.sampled_from(["", "-", "+"]),
        st.sampled_from(["", "0", "00"]),
        digits,
        st.sampled_from(["", "."]),
        digits,
        st.sampled_from(["", "e2", "E+01", "E-3", "e-0"]),
    )
    scientific = st.builds(
        lambda sign, head, fraction, letter, exponent: f"{sign}{head}{fraction}{letter}{exponent}",
        st.sampled_from(["", "-", "+"]),
        st.sampled_from(["1", "5", "9", "0", "05"]),
        st.sampled_from(["", ".", ".0", ".25", ".0001", ".99"]),
        st.sampled_from(["E", "e"]),
        st.sampled_from(
            ["+0", "-0", "00", "1", "+2", "-2", "-07", "+8", "18", "-100", "9" * 18, "1" + "0" * 18]
        ),
    )
    written = st.builds(
        lambda coefficient, exponent: str(Decimal(coefficient).scaleb(exponent)),
        st.integers(-(10**7), 10**7),
        st.integers(-12, 12),
    )
    strategies = [fixed, scientific, written]
    if near is not None:
        # Texts at and beside the bound, in both forms and with extra zeros.
        steps = st.sampled_from([Decimal(0), Decimal("1E-9"), Decimal("-1E-9"), Decimal(1), Decimal(-1)])
        strategies.append(
            st.builds(
                lambda step, sci: f"{near + step:E}" if sci else f"{near + step:f}", steps, st.booleans()
            )
        )
        strategies.append(st.sampled_from([f"{near:f}0", f"0{near:f}", f"{near:E}", f"{near:e}"]))
    return st.one_of(strategies)


def expected(op: str, bound: Decimal, text: str) -> bool:
    """Decimal's verdict on a text of the form (texts outside it are refused)."""
    if not FORM.fullmatch(text):
        return False
    try:
        value = Decimal(text)
    except InvalidOperation:
        return False
    return OPERATORS[op](value, bound)


@pytest.mark.slow
@CHECKS
@given(st.data())
def test_a_comparison_matches_exactly_the_texts_on_its_side(data: st.DataObject) -> None:
    bound = data.draw(bounds())
    op = data.draw(st.sampled_from(sorted(OPERATORS)))
    text = data.draw(texts(bound))
    pattern = f"^{comparison(op, bound)}(?!\\n)$"
    want = expected(op, bound, text)
    assert bool(re.search(pattern, text)) is want, (op, bound, text)
    rust = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    assert rust.is_valid(text) is want, (op, bound, text)


@settings(max_examples=200, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_the_form_holds_every_text_python_writes_and_only_decimals(value: Decimal) -> None:
    assert FORM.fullmatch(str(value))
    assert FORM.fullmatch(f"{value:f}")


def test_the_form_refuses_what_it_cannot_compare() -> None:
    """Scientific text with a digit count that moves the point, and exponents Decimal cannot read."""
    assert not FORM.fullmatch("12.5E+1") and not FORM.fullmatch("0.5E+1") and not FORM.fullmatch("05E+1")
    assert FORM.fullmatch("1E+999999999999999999") and not FORM.fullmatch("1E+1000000000000000000")
    assert not FORM.fullmatch("1E+2\n") and not FORM.fullmatch(" 1") and not FORM.fullmatch("1_000")
    assert not FORM.fullmatch("") and not FORM.fullmatch(".") and not FORM.fullmatch("-")


@pytest.mark.parametrize(
    ("text", "forms"),
    [
        ("NaN", {"nan"}),
        ("-sNaN12", {"nan"}),
        ("nan0", {"nan"}),
        ("Infinity", {"+inf"}),
        ("+inf", {"+inf"}),
        ("-iNfInItY", {"-inf"}),
        ("Infinit", set()),
        ("Infinity0", set()),
        ("NaN1_2", set()),
    ],
)
def test_the_special_forms_are_the_texts_decimal_reads(text: str, forms: set[str]) -> None:
    assert {name for name, form in SPECIAL_FORMS.items() if re.fullmatch(form, text)} == forms
    if forms:
        assert not Decimal(text).is_finite()


@pytest.mark.parametrize(
    ("step", "stated"),
    [
        (Decimal("0.01"), True),
        (Decimal("0.050"), True),
        (Decimal("0.25"), True),
        (Decimal("0.4"), True),
        (5, True),
        (Decimal("2E+3"), True),
        (Decimal("0.03"), False),
        (Decimal("0.125"), False),
        (0.05, False),  # the float 0.05 is not a twentieth
        (Decimal(0), False),
        (Decimal("-0.01"), False),
    ],
    ids=[
        "hundredth",
        "twentieth",
        "quarter",
        "two-fifths",
        "five",
        "thousands",
        "three",
        "eighth",
        "float",
        "zero",
        "negative",
    ],
)
def test_a_step_is_stated_where_its_last_digits_decide(step: object, stated: bool) -> None:
    found = decimal_multiple(step)
    assert (found is not None) is stated
    if found is not None:
        assert found == Decimal(str(step))


STEPS = st.builds(
    lambda digits, place: Decimal(digits).scaleb(place), st.sampled_from([1, 2, 4, 5, 25]), st.integers(-6, 3)
)


def multiple_texts(step: Decimal) -> st.SearchStrategy[str]:
    """Multiples of ``step`` and near misses, in both forms, up to pydantic's 28-digit quotient."""
    near = st.builds(
        lambda count, nudge, sci: f"{step * count + nudge:E}" if sci else f"{step * count + nudge:f}",
        st.integers(-(10**8), 10**8) | st.integers(-(10**27), 10**27),
        st.sampled_from([Decimal(0), Decimal(0), step / 2, step / 5, -step / 4, Decimal("1E-9")]),
        st.booleans(),
    )
    return near | st.builds(str, st.integers(-(10**8), 10**8).map(lambda count: step * count)) | texts()


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_multiples_match_exactly_the_multiples_below_the_quotient_limit(data: st.DataObject) -> None:
    step = data.draw(STEPS)
    text = data.draw(multiple_texts(step))
    limit = step.scaleb(CONTEXT_DIGITS)
    pattern = (
        f"^(?=(?:{comparison('lt', limit)})$)(?=(?:{comparison('gt', -limit)})$){multiples(step)}(?!\\n)$"
    )
    want = FORM.fullmatch(text) is not None and Decimal(text).copy_abs() < limit and Decimal(text) % step == 0
    assert bool(re.search(pattern, text)) is want, (step, text)
    rust = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    assert rust.is_valid(text) is want, (step, text)


@pytest.mark.parametrize(
    ("bound", "exact"),
    [
        (Decimal("0.01"), True),
        (10000, True),
        (Decimal("-9.99"), True),
        (Decimal("123456789012345"), True),
        (9.99, False),  # the float is 9.9900000000000002131...
        (0.5, True),
        (Decimal("0.1000000000000000000001"), False),
        (Decimal("1E+400"), False),
        (2**60 + 1, False),
    ],
    ids=["cent", "int", "negative", "fifteen-digits", "float", "half", "long", "huge", "big-int"],
)
def test_a_bound_is_published_only_where_a_float_holds_it(bound: object, exact: bool) -> None:
    assert float_exact(bound) is exact


@pytest.mark.node
def test_ajv_reads_every_comparison_alike() -> None:
    """One batch of seeded cases through ajv (ECMA-262, u flag), bounds and steps: its verdict is Decimal's."""
    draw = random.Random(9)
    schemas = {}
    messages = []
    wanted = []
    for index in range(40):
        bound = Decimal(draw.randint(-(10**5), 10**5)).scaleb(draw.randint(-6, 4))
        op = draw.choice(sorted(OPERATORS))
        schemas[str(index)] = {"type": "string", "pattern": f"^{comparison(op, bound)}(?!\\n)$"}
        step = Decimal(1).scaleb(draw.randint(-8, 2))
        near = [bound, bound + step, bound - step, -bound]
        candidates = [f"{value:f}" for value in near] + [f"{value:E}" for value in near] + [str(bound)]
        candidates += [f"0{bound:f}0", f"{bound:e}", "1E+999999999999999999", "-0", "0E-9", "9" * 30]
        for text in candidates:
            messages.append({"schema": str(index), "data": text})
            wanted.append(expected(op, bound, text))
    for index, step in enumerate(Decimal(text) for text in ("0.05", "0.25", "0.4", "5", "0.01", "2E+2")):
        name = f"multiple-{index}"
        schemas[name] = {"type": "string", "pattern": f"^{multiples(step)}(?!\\n)$"}
        for count in (0, 1, 3, 7, -11, 12345):
            for value in (step * count, step * count + step / 5):
                for text in (f"{value:f}", f"{value:E}", str(value)):
                    messages.append({"schema": name, "data": text})
                    wanted.append(value % step == 0)
    result = run_ajv({"schemas": schemas, "messages": messages})
    assert all(entry["ok"] for entry in result["schemas"].values()), result["schemas"]
    verdicts = [entry["valid"] for entry in result["messages"]]
    wrong = [
        (message, want)
        for message, got, want in zip(messages, verdicts, wanted, strict=True)
        if got is not want
    ]
    assert not wrong, wrong[:5]
